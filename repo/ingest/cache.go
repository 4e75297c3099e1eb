package ingest

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// fileCache is the ingest's view of the file-change cache of one host and
// source: what the last ingest saw (read per directory, on demand) and what
// this one sees (written at the end, replacing the old).
type fileCache struct {
	db       *index.DB
	key      string
	disabled bool
	parent   *repo.Snapshot

	// dirs maps a directory to its *dirEntries. A sync.Map, not a map
	// under mu: the walkers ask about every file they find (prefetchFile)
	// and the file workers about every file they take, and one mutex for
	// all of them queued them up behind each other: each waiter, woken,
	// waited for a free processor while the others waited for it.
	dirs sync.Map

	mu   sync.Mutex          // guards out and seen
	out  map[string][]byte   // entries that differ from the stored cache
	seen map[string]struct{} // every key this ingest recorded
}

// dirEntries is what the last ingest recorded in one directory. The first
// to ask reads it from the index; whoever asks meanwhile waits for ready.
// Once ready, m is only read.
type dirEntries struct {
	ready chan struct{}
	m     map[string][]byte
}

func newFileCache(ctx context.Context, r *repo.Repository, host, source string, disabled bool) *fileCache {
	c := &fileCache{db: r.Index(), key: host + "\x00" + source, disabled: disabled, out: map[string][]byte{}, seen: map[string]struct{}{}}
	if sn, err := r.FindSnapshot(ctx, "latest", repo.Filter{Host: host, Source: source}); err == nil {
		c.parent = sn
	}
	return c
}

// An entry is an encoded node. Entries written since the cache keeps
// extended attributes start with withXattrs, a field tag no node uses, and
// hold the node's attributes; older ones hold none, which says nothing.
const withXattrs = 0x00

// lookup returns what the last ingest recorded for path, or nil, and
// whether the entry holds the path's extended attributes.
func (c *fileCache) lookup(path string) (*tree.Node, bool) {
	if c.disabled {
		return nil, false
	}
	dir, name := filepath.Split(path)
	b := c.entries(filepath.Clean(dir))[name]
	if b == nil {
		return nil, false
	}
	xattrs := b[0] == withXattrs
	if xattrs {
		b = b[1:]
	}
	n, err := tree.DecodeNode(b)
	if err != nil {
		return nil, false // a damaged cache entry only costs a re-read
	}
	return n, xattrs
}

// known reports whether the last ingest recorded path (without decoding
// the entry). A file it did not is new, and will be read.
func (c *fileCache) known(path string) bool {
	if c.disabled {
		return false
	}
	dir, name := filepath.Split(path)
	return c.entries(filepath.Clean(dir))[name] != nil
}

// entries returns what the last ingest recorded in dir, read from the index
// the first time it is asked for.
func (c *fileCache) entries(dir string) map[string][]byte {
	v, ok := c.dirs.Load(dir)
	if !ok {
		d := &dirEntries{ready: make(chan struct{})}
		if v, ok = c.dirs.LoadOrStore(dir, d); !ok {
			d.m, _ = c.db.DirFiles(c.key, dir)
			close(d.ready)
			return d.m
		}
	}
	d := v.(*dirEntries)
	<-d.ready
	return d.m
}

// forgetDir drops a finished directory's old entries from memory.
func (c *fileCache) forgetDir(dir string) {
	c.dirs.Delete(dir)
}

// record notes what this ingest saw at path.
func (c *fileCache) record(path string, n *tree.Node) {
	if c.disabled {
		return
	}
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	k := string(index.FileKey(dir, name))
	v := append([]byte{withXattrs}, tree.EncodeNode(&tree.Node{Name: n.Name, Kind: n.Kind, Size: n.Size, MTime: n.MTime, CTime: n.CTime, Inode: n.Inode, Dev: n.Dev, Content: n.Content, Subtree: n.Subtree, Xattrs: n.Xattrs})...)
	// Only what changed is written back: an unchanged tree costs no writes.
	// A directory whose old entries were never read (or already
	// forgotten) has its entry written.
	same := false
	if d, ok := c.dirs.Load(dir); ok {
		d := d.(*dirEntries)
		<-d.ready
		same = bytes.Equal(d.m[name], v)
	}
	c.mu.Lock()
	c.seen[k] = struct{}{}
	if !same {
		c.out[k] = v
	}
	c.mu.Unlock()
}

// save replaces the stored cache with this ingest's view. Called only after
// the blobs it names are indexed.
func (c *fileCache) save() error {
	if c.disabled {
		return nil
	}
	return c.db.UpdateFiles(c.key, c.out, c.seen)
}
