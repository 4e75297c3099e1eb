package fs

import (
	"container/list"
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/id"
)

// chunkCache keeps decrypted data chunks in memory, at most max bytes of
// them, least recently used first out. A chunk is fetched once however many
// readers (and read-ahead) want it at the same time.
type chunkCache struct {
	r       *repo.Repository
	max     int64
	timeout time.Duration
	queue   chan prefetchReq // chunks wanted soon

	mu    sync.Mutex
	m     map[id.ID]*chunk
	lru   list.List // loaded chunks, most recent first
	bytes int64
}

type chunk struct {
	id    id.ID
	data  []byte
	err   error
	ready chan struct{} // closed when data or err is set
	refs  int           // holders: each reader, and the cache while listed
	elem  *list.Element
}

func newChunkCache(r *repo.Repository, max int64, timeout time.Duration) *chunkCache {
	c := &chunkCache{
		r: r, max: max, timeout: timeout,
		queue: make(chan prefetchReq, 1024),
		m:     map[id.ID]*chunk{},
	}
	// One loader per core and one more, so that one waiting on storage
	// does not leave a core idle; at most 4, since each holds up to three
	// chunk-sized buffers beyond the cache.
	for range min(runtime.GOMAXPROCS(0)+1, 4) {
		go c.prefetcher()
	}
	return c
}

// close stops the background loaders.
func (c *chunkCache) close() { close(c.queue) }

// get returns the chunk with its data; the caller must release it. It
// returns when ctx ends, whoever loads the chunk: a reader the kernel
// interrupts (Ctrl-C, kill) gets its answer at once, not when storage
// answers, and the load goes on for the next reader.
func (c *chunkCache) get(ctx context.Context, bid id.ID, size int) (*chunk, error) {
	ch, loader := c.acquire(bid)
	if loader {
		go c.load(ch, size)
	}
	select {
	case <-ch.ready:
	case <-ctx.Done():
		c.release(ch)
		return nil, ctx.Err()
	}
	if ch.err != nil {
		c.release(ch)
		return nil, ch.err
	}
	return ch, nil
}

// prefetch asks for a chunk to be loaded in the background unless it is
// cached or on its way. When the queue is full it does nothing: a reader
// will fetch the chunk itself.
func (c *chunkCache) prefetch(bid id.ID, size int) {
	c.mu.Lock()
	_, known := c.m[bid]
	c.mu.Unlock()
	if known {
		return
	}
	select {
	case c.queue <- prefetchReq{bid, size}:
	default:
	}
}

type prefetchReq struct {
	id   id.ID
	size int
}

// prefetcher loads queued chunks until the queue is closed.
func (c *chunkCache) prefetcher() {
	for req := range c.queue {
		c.mu.Lock()
		_, known := c.m[req.id]
		c.mu.Unlock()
		if known {
			continue
		}
		ch, loader := c.acquire(req.id)
		if loader {
			c.load(ch, req.size)
		}
		c.release(ch)
	}
}

// acquire finds or registers the chunk bid and takes a reference; loader
// says the caller registered it and must load it.
func (c *chunkCache) acquire(bid id.ID) (*chunk, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.m[bid]; ch != nil {
		ch.refs++
		if ch.elem != nil {
			c.lru.MoveToFront(ch.elem)
		}
		return ch, false
	}
	ch := &chunk{id: bid, ready: make(chan struct{}), refs: 2}
	c.m[bid] = ch
	return ch, true
}

// load fetches ch. It runs with its own deadline, not a reader's, so a
// reader that gives up does not fail the others waiting for the chunk
// (nor the next one to ask for it).
func (c *chunkCache) load(ch *chunk, size int) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	buf := bufpool.Get(size)
	data, err := c.r.LoadBlob(ctx, id.DataBlob, ch.id, buf)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		bufpool.Put(buf)
		ch.err = err
		ch.refs-- // the cache lets go of a failed chunk: the next read tries again
		delete(c.m, ch.id)
		close(ch.ready)
		return
	}
	if !sameArray(data, buf) {
		bufpool.Put(buf)
	}
	ch.data = data
	close(ch.ready)
	ch.elem = c.lru.PushFront(ch)
	c.bytes += int64(cap(data))
	for c.bytes > c.max && c.lru.Len() > 1 {
		old := c.lru.Remove(c.lru.Back()).(*chunk)
		old.elem = nil
		delete(c.m, old.id)
		c.bytes -= int64(cap(old.data))
		c.unref(old)
	}
}

func (c *chunkCache) release(ch *chunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unref(ch)
}

func (c *chunkCache) unref(ch *chunk) {
	ch.refs--
	if ch.refs == 0 && ch.data != nil {
		bufpool.Put(ch.data)
		ch.data = nil
	}
}

func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
