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

	mu   sync.Mutex
	dirs map[string]map[string][]byte
	out  map[string][]byte   // entries that differ from the stored cache
	seen map[string]struct{} // every key this ingest recorded
}

func newFileCache(ctx context.Context, r *repo.Repository, host, source string, disabled bool) *fileCache {
	c := &fileCache{db: r.Index(), key: host + "\x00" + source, disabled: disabled, dirs: map[string]map[string][]byte{}, out: map[string][]byte{}, seen: map[string]struct{}{}}
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
	c.mu.Lock()
	b := c.entriesLocked(filepath.Clean(dir))[name]
	c.mu.Unlock()
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
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entriesLocked(filepath.Clean(dir))[name] != nil
}

// entriesLocked returns what the last ingest recorded in dir, read from the
// index the first time; the caller holds c.mu.
func (c *fileCache) entriesLocked(dir string) map[string][]byte {
	entries, ok := c.dirs[dir]
	if !ok {
		entries, _ = c.db.DirFiles(c.key, dir)
		c.dirs[dir] = entries
	}
	return entries
}

// forgetDir drops a finished directory's old entries from memory.
func (c *fileCache) forgetDir(dir string) {
	c.mu.Lock()
	delete(c.dirs, dir)
	c.mu.Unlock()
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
	c.mu.Lock()
	c.seen[k] = struct{}{}
	// Only what changed is written back: an unchanged tree costs no writes.
	if old, ok := c.dirs[dir]; !ok || !bytes.Equal(old[name], v) {
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
