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
	ctx     context.Context  // ends the loads when the mount ends
	stop    context.CancelFunc
	loads   budget // the chunks readers' loads hold while in flight

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
		loads: budget{max: max, freed: make(chan struct{})},
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	// One loader per core and one more, so that one waiting on storage
	// does not leave a core idle; at most 4, since each holds up to three
	// chunk-sized buffers beyond the cache.
	for range min(runtime.GOMAXPROCS(0)+1, 4) {
		go c.prefetcher()
	}
	return c
}

// close stops the background loaders and ends the loads in flight,
// those readers gave up on too: none outlives the mount by its timeout.
func (c *chunkCache) close() {
	c.stop()
	close(c.queue)
}

// get returns the chunk with its data; the caller must release it. It
// returns when ctx ends, whoever loads the chunk: a reader the kernel
// interrupts (Ctrl-C, kill) gets its answer at once, not when storage
// answers, and the load goes on for the next reader. The loads in flight
// hold at most the cache's bound between them (and one chunk at least),
// so readers interrupted one after the other while storage stalls do not
// pile up a chunk's buffers each.
func (c *chunkCache) get(ctx context.Context, bid id.ID, size int) (*chunk, error) {
	ch, loader := c.acquire(bid)
	if loader {
		go func() {
			n, err := c.loads.take(c.ctx, int64(size))
			if err != nil {
				c.loaded(ch, nil, nil, err)
				return
			}
			defer c.loads.give(n)
			c.load(ch, size)
		}()
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
	ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
	defer cancel()
	buf := bufpool.Get(size)
	data, err := c.r.LoadBlob(ctx, id.DataBlob, ch.id, buf)
	c.loaded(ch, data, buf, err)
}

// loaded sets ch's data (read into buf) or error.
func (c *chunkCache) loaded(ch *chunk, data, buf []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if buf != nil {
			bufpool.Put(buf)
		}
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

// budget bounds the bytes of what is in flight; one taker at a time may
// take more than max.
type budget struct {
	mu    sync.Mutex
	used  int64
	max   int64
	freed chan struct{} // closed (and replaced) when bytes are given back
}

// take waits until n bytes fit and takes them, or until ctx ends. It
// returns what it took, for give.
func (b *budget) take(ctx context.Context, n int64) (int64, error) {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return n, nil
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}
