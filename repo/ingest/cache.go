package ingest

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// fileCache is the ingest's view of the file-change cache of one host and
// source: what the last ingest saw (read per directory, on demand) and what
// this one sees (written at the end, replacing the old).
//
// With a parent chosen by the caller (Options.Parent), what this ingest
// compares files with is that snapshot's trees instead (trees): the
// stored cache may describe another snapshot (a later one, or another
// host's), and a file is unchanged only when it matches what the chosen
// parent recorded. The stored cache is still replaced with what this
// ingest sees.
type fileCache struct {
	db       *index.DB
	key      string
	paths    []string // the ingest's, absolute: the cache's part it replaces
	disabled bool
	// reread (--force) ignores what the last ingest recorded, but records
	// what this one sees.
	reread bool
	// trees, when set, is the chosen parent's: lookup and known ask it,
	// not the stored cache.
	trees *parentTrees
	// knownIn says whether a blob the index locates in a pack is known
	// (Saver.KnownIn); nil leaves every blob to be asked about.
	knownIn func(pack id.ID) bool

	// dirs maps a directory to its *dirEntries. A sync.Map, not a map
	// under mu: the walkers ask about every file they find (prefetchFile)
	// and the file workers about every file they take, and one mutex for
	// all of them queued them up behind each other: each waiter, woken,
	// waited for a free processor while the others waited for it.
	dirs sync.Map

	// noSave (a dry run) records nothing: nothing is written back.
	noSave bool

	mu sync.Mutex // guards batch, seen and the writer's state
	// batch holds entries that differ from the stored cache, written
	// (by writeBatches) once it holds cacheBatch of them: an ingest of
	// millions of files held every entry until its end, some 200 bytes
	// a file.
	batch []index.FileEntry
	// seen holds a hash of every key this ingest recorded, written or
	// not, for save to drop the others: 16 bytes a file instead of the
	// key itself.
	seen    []keyHash
	writes  chan []index.FileEntry // to writeBatches, while it runs
	written chan error             // writeBatches' result, when it ends
}

// keyHash identifies a key in seen. Two keys of one hash would leave the
// entry of a vanished file in the cache: it then only describes a file
// that is not there, as an entry of another ingest's paths does.
type keyHash [2]uint64

// cacheBatch is how many changed entries the ingest gathers before it
// writes them.
var cacheBatch = 20000

// dirEntries is what the last ingest recorded in one directory. The first
// to ask reads it from the index; whoever asks meanwhile waits for ready.
// Once ready, m is only read.
type dirEntries struct {
	ready chan struct{}
	m     map[string]entry
}

// entry is one path's entry as stored, and whether every blob it names
// was known when its folder was read: located by the index, in the same
// transaction, in a pack the saver knows. An unchanged ingest then looks
// no blob up one by one (a transaction each, a fifth of its CPU time).
type entry struct {
	raw        []byte
	blobsKnown bool
}

func newFileCache(r *repo.Repository, host, source string, paths []string, disabled bool, knownIn func(pack id.ID) bool) *fileCache {
	return &fileCache{db: r.Index(), key: host + "\x00" + source, paths: paths, disabled: disabled, knownIn: knownIn}
}

// keySeeds seed keyHash: random, as the hashes never leave the process.
var keySeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func (c *fileCache) hash(k []byte) keyHash {
	return keyHash{maphash.Bytes(keySeeds[0], k), maphash.Bytes(keySeeds[1], k)}
}

// empty reports whether the cache is in use and holds nothing for its host
// and source below the ingest's paths; one that cannot be read counts as
// empty.
func (c *fileCache) empty() bool {
	if c.disabled || c.reread {
		return false
	}
	has, err := c.db.HasFiles(c.key, c.paths)
	return err != nil || !has
}

// An entry is an encoded node. Entries written since the cache keeps
// extended attributes start with withXattrs, a byte no encoded node
// starts with (they start with the name's tag, 1), and hold the node's
// attributes; older ones hold none, which says nothing. Entries that also
// hold the node's inode flags end with flagsKnown, a field of a tag no
// node uses, which binaries from before inode flags skip as they skip the
// flags field itself: they read such entries as their own and re-read no
// file. An entry with withXattrs but without flagsKnown was written by
// such a binary: its flags are unknown, so it does not vouch for the
// attributes either.
//
// Entries starting with withXattrsFlags were written for a while instead;
// older binaries cannot decode them and re-read every such file, so they
// are read but written anew.
const (
	withXattrs      = 0x00
	withXattrsFlags = 0x02
)

// flagsKnown is the field (tag 127, length 1, value 1) that ends an entry
// holding the node's inode flags.
var flagsKnown = []byte{0x7f, 0x01, 0x01}

// encodeEntry encodes what the file-change cache keeps of n.
func encodeEntry(n *tree.Node) []byte {
	v := append([]byte{withXattrs}, tree.EncodeNode(&tree.Node{Name: n.Name, Kind: n.Kind, Size: n.Size, MTime: n.MTime, CTime: n.CTime, Inode: n.Inode, Dev: n.Dev, Content: n.Content, Subtree: n.Subtree, Xattrs: n.Xattrs, Flags: n.Flags})...)
	return append(v, flagsKnown...)
}

// hasFlagsKnown reports whether the encoded node b holds the flagsKnown
// field.
func hasFlagsKnown(b []byte) bool {
	for len(b) > 0 {
		tag, k := binary.Uvarint(b)
		if k <= 0 {
			return false
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return false
		}
		if tag == uint64(flagsKnown[0]) && l == 1 && b[k] == flagsKnown[2] {
			return true
		}
		b = b[k+int(l):]
	}
	return false
}

// cached is what the last ingest (or the chosen parent) recorded for a
// path: its node, whether the node holds the path's extended attributes,
// whether every blob the node names was known when the folder was read
// (when not, ask blobsKnown), and whether it is the stored cache's own
// entry (which keep may then leave as it is).
type cached struct {
	node   *tree.Node
	xattrs bool
	// flags: the node holds the path's inode flags. A parent tree's
	// node without flags says nothing of them: its writer may be older
	// than the flags field.
	flags      bool
	blobsKnown bool
	stored     bool
	// rewrite: the stored entry is in a form to be written anew even
	// when it stays true.
	rewrite bool
}

// lookup returns what the last ingest, or the chosen parent, recorded for
// path; a nil node when it recorded nothing (or the entry is damaged: that
// only costs a re-read).
func (c *fileCache) lookup(path string) cached {
	if c.disabled || c.reread {
		return cached{}
	}
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	if c.trees != nil {
		n := c.trees.entries(dir)[name]
		// A tree node holds every attribute, but inode flags only
		// when it has some: a snapshot written before they were kept
		// has none, whatever the files have.
		return cached{node: n, xattrs: n != nil, flags: n != nil && n.Flags != 0}
	}
	e := c.entries(dir)[name]
	n, xattrs := decodeEntry(e.raw)
	rewrite := len(e.raw) > 0 && e.raw[0] == withXattrsFlags
	return cached{node: n, xattrs: xattrs, flags: xattrs, blobsKnown: n != nil && e.blobsKnown, stored: n != nil, rewrite: rewrite}
}

// decodeEntry decodes a stored entry (nil when there is none or it is
// damaged) and says whether it holds the extended attributes.
func decodeEntry(b []byte) (*tree.Node, bool) {
	if len(b) == 0 {
		return nil, false
	}
	xattrs := false
	switch b[0] {
	case withXattrsFlags:
		xattrs = true
		b = b[1:]
	case withXattrs:
		b = b[1:]
		xattrs = hasFlagsKnown(b)
	}
	n, err := tree.DecodeNode(b)
	if err != nil {
		return nil, false
	}
	return n, xattrs
}

// known reports whether the last ingest (or the chosen parent) recorded
// path (without decoding the entry). A file it did not is new, and will
// be read.
func (c *fileCache) known(path string) bool {
	if c.disabled || c.reread {
		return false
	}
	dir, name := filepath.Split(path)
	if c.trees != nil {
		return c.trees.entries(filepath.Clean(dir))[name] != nil
	}
	return c.entries(filepath.Clean(dir))[name].raw != nil
}

// entries returns what the last ingest recorded in dir, read from the index
// the first time it is asked for.
func (c *fileCache) entries(dir string) map[string]entry {
	v, ok := c.dirs.Load(dir)
	if !ok {
		d := &dirEntries{ready: make(chan struct{}), m: map[string]entry{}}
		if v, ok = c.dirs.LoadOrStore(dir, d); !ok {
			err := c.db.DirFiles(c.key, dir, func(name string, v []byte, locate func(id.ID) (index.Blob, bool)) {
				// With a chosen parent, the entries only tell what to
				// write back: their blobs do not matter.
				d.m[name] = entry{raw: bytes.Clone(v), blobsKnown: c.trees == nil && c.blobsKnown(v, locate)}
			})
			if err != nil {
				clear(d.m) // a cache it cannot read only costs re-reads
			}
			close(d.ready)
			return d.m
		}
	}
	d := v.(*dirEntries)
	<-d.ready
	return d.m
}

// blobsKnown reports whether every blob the stored entry v names is in a
// pack the index locates and the saver knows. An entry naming more than
// folderBlobs blobs is left to be asked about blob by blob, as the
// ingest does only when the file is unchanged: the folder's transaction
// stays short, and a large file that changed costs no lookups.
func (c *fileCache) blobsKnown(v []byte, locate func(id.ID) (index.Blob, bool)) bool {
	if c.knownIn == nil || len(v) == 0 {
		return false
	}
	if v[0] == withXattrs || v[0] == withXattrsFlags {
		v = v[1:]
	}
	n := 0
	return tree.EncodedBlobs(v, func(bid id.ID) bool {
		n++
		if n > folderBlobs {
			return false
		}
		b, ok := locate(bid)
		return ok && c.knownIn(b.Pack)
	})
}

// folderBlobs is how many blobs of one entry blobsKnown looks up while
// reading its folder.
const folderBlobs = 16

// forgetDir drops a finished directory's old entries from memory.
func (c *fileCache) forgetDir(dir string) {
	c.dirs.Delete(dir)
	if c.trees != nil {
		c.trees.forget(dir)
	}
}

// record notes what this ingest saw at path.
func (c *fileCache) record(path string, n *tree.Node) {
	if c.disabled || c.noSave {
		return
	}
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	k := string(index.FileKey(dir, name))
	v := encodeEntry(n)
	// Only what changed is written back: an unchanged tree costs no writes.
	// A directory whose old entries were never read (or already
	// forgotten) has its entry written.
	same := false
	if c.trees != nil {
		// lookup read the parent's trees, not the stored entries:
		// read them now, to write back only what differs.
		same = bytes.Equal(c.entries(dir)[name].raw, v)
	} else if d, ok := c.dirs.Load(dir); ok {
		d := d.(*dirEntries)
		<-d.ready
		same = bytes.Equal(d.m[name].raw, v)
	}
	h := c.hash([]byte(k))
	c.mu.Lock()
	c.seen = append(c.seen, h)
	var full []index.FileEntry
	if !same {
		c.batch = append(c.batch, index.FileEntry{Key: k, Value: v})
		if len(c.batch) >= cacheBatch {
			full, c.batch = c.batch, nil
		}
	}
	c.mu.Unlock()
	if full != nil {
		c.write(full)
	}
}

// write hands a full batch to writeBatches, started by the first. It
// waits while the one before is being written: the file workers then
// wait for the index, and the entries held stay at two batches.
func (c *fileCache) write(b []index.FileEntry) {
	c.mu.Lock()
	if c.writes == nil {
		c.writes, c.written = make(chan []index.FileEntry), make(chan error, 1)
		go c.writeBatches(c.writes, c.written)
	}
	w := c.writes
	c.mu.Unlock()
	w <- b
}

// writeBatches writes the batches it receives until writes is closed, and
// sends its first error (after which it drops what it receives: only a
// cache) to written.
func (c *fileCache) writeBatches(writes <-chan []index.FileEntry, written chan<- error) {
	var err error
	for b := range writes {
		if err == nil {
			err = c.db.PutFiles(c.key, b)
		}
	}
	written <- err
}

// keep notes that the entry of path stays as the last ingest recorded it:
// the file is unchanged, and its node is the one the entry holds.
func (c *fileCache) keep(path string) {
	if c.disabled || c.noSave {
		return
	}
	dir, name := filepath.Split(path)
	h := c.hash(index.FileKey(filepath.Clean(dir), name))
	c.mu.Lock()
	c.seen = append(c.seen, h)
	c.mu.Unlock()
}

// finish writes the entries still gathered and waits for the writes. With
// complete (the walk ended without error), it then drops the stored
// entries below the ingest's paths that this ingest did not record: the
// stored cache's part below them is then this ingest's view. Without, what
// was written stays, and the rest of the stored cache as it was. Called
// only after the walk, once: no record or keep after it.
func (c *fileCache) finish(complete bool) error {
	if c.disabled || c.noSave {
		return nil
	}
	c.mu.Lock()
	last := c.batch
	c.batch = nil
	c.mu.Unlock()
	if len(last) > 0 {
		c.write(last)
	}
	var err error
	if c.writes != nil {
		close(c.writes)
		err = <-c.written
	}
	if err != nil || !complete {
		return err
	}
	seen := c.seen
	slices.SortFunc(seen, compareKeyHash)
	return c.db.DropFiles(c.key, c.paths, func(k []byte) bool {
		_, ok := slices.BinarySearchFunc(seen, c.hash(k), compareKeyHash)
		return ok
	})
}

func compareKeyHash(a, b keyHash) int {
	if c := cmp.Compare(a[0], b[0]); c != 0 {
		return c
	}
	return cmp.Compare(a[1], b[1])
}
