// Package cache is a filter that keeps copies of a repository's metadata
// objects in a local folder, so that mounting, listing and browsing do not
// download them again: index segments ("index/"), snapshots ("snapshots/")
// and tree packs ("tree/"). These are content-addressed and never change,
// so a copy stays right for as long as the object exists. The small mutable
// objects — config, keys, locks — and data packs are never cached.
//
// Reads are read-through: the first Load of a cached name fetches the whole
// object (once, however many readers ask at the same time), stores it, and
// every range is then served from the copy. Saves and Creates store the copy
// as they write; Remove drops it. Stat and List always ask the backend, and
// so do reads under a context made by backends.Uncached (a check, a repair),
// which leave the copy as it is.
//
// A copy outlives the object when another process removes it (prune, on
// another host). For index segments and snapshots, the next whole listing
// of their folder (List of "index/", "snapshots/" or ""), which opening the
// repository does, removes such copies: a forgotten snapshot must not stay
// on every host that once read it. Copies of tree packs stay (nothing
// refers to them, so nothing reads them), as a copy of one that the
// storage lost is what check and repair index restore it from.
//
// Copies are written to a temporary file, synced and renamed into place, so
// a copy is whole or absent. The cache never fails a call: when the folder
// cannot be written, the backend's answer is used as it is.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var (
	_ backends.Backend    = (*Backend)(nil)
	_ backends.LoaderInto = (*Backend)(nil)
	_ backends.Unwrapper  = (*Backend)(nil)
	_ backends.Copier     = (*Backend)(nil)
)

// Metadata reports whether name is a metadata object this cache keeps by
// default: an index segment, a snapshot or a tree pack.
func Metadata(name string) bool {
	for _, p := range []string{"index/", "snapshots/", "tree/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Options say where the copies live and which objects to copy.
type Options struct {
	// Dir is the cache folder, made (0700) if missing. One folder serves
	// one repository.
	Dir string
	// Cached picks the names to cache; nil means Metadata. Only objects
	// that never change under one name may be cached.
	Cached func(name string) bool
}

// Backend caches objects of the backend it wraps.
type Backend struct {
	backends.Backend
	dir    string
	cached func(string) bool

	mu sync.Mutex
	// gen counts the writes and removals of each name this process made;
	// a fill started before one of them must not store its stale copy.
	gen   map[string]uint64
	fills map[string]*fill // downloads in progress
}

// fill is one download of a whole object that concurrent readers share.
type fill struct {
	done chan struct{}
	data []byte
	err  error
}

// tmpDir holds copies being written; its name cannot be an object's.
const tmpDir = ".tmp"

// New wraps b, keeping copies in opts.Dir.
func New(b backends.Backend, opts Options) (*Backend, error) {
	if opts.Dir == "" {
		return nil, errors.New("cache: no folder given")
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if opts.Cached == nil {
		opts.Cached = Metadata
	}
	return &Backend{
		Backend: b,
		dir:     opts.Dir,
		cached:  opts.Cached,
		gen:     make(map[string]uint64),
		fills:   make(map[string]*fill),
	}, nil
}

// Unwrap returns the wrapped backend.
func (c *Backend) Unwrap() backends.Backend { return c.Backend }

// KeepsCopy reports whether reads of name may be served from a copy
// (backends.Copier).
func (c *Backend) KeepsCopy(name string) bool {
	return backends.CheckName(name) == nil && c.cached(name)
}

func (c *Backend) path(name string) string {
	return filepath.Join(c.dir, filepath.FromSlash(name))
}

// use reports whether a call on name goes through the cache: a cached name,
// valid, with ctx not done (the backend reports those cases itself).
func (c *Backend) use(ctx context.Context, name string) bool {
	return ctx.Err() == nil && backends.CheckName(name) == nil && c.cached(name)
}

// serve reports whether a read of name may be served from (and fill) the
// copy: as use, unless ctx asks for the storage itself (backends.Uncached).
func (c *Backend) serve(ctx context.Context, name string) bool {
	return c.use(ctx, name) && !backends.IsUncached(ctx)
}

func (c *Backend) Save(ctx context.Context, name string, data []byte) error {
	if !c.use(ctx, name) {
		return c.Backend.Save(ctx, name, data)
	}
	gen := c.drop(name)
	err := c.Backend.Save(ctx, name, data)
	if err == nil {
		c.store(name, data, gen)
	}
	return err
}

func (c *Backend) Create(ctx context.Context, name string, data []byte) error {
	if !c.use(ctx, name) {
		return c.Backend.Create(ctx, name, data)
	}
	err := c.Backend.Create(ctx, name, data)
	if err == nil {
		c.store(name, data, c.drop(name))
	}
	return err
}

func (c *Backend) Remove(ctx context.Context, name string) error {
	if c.use(ctx, name) {
		c.drop(name)
	}
	return c.Backend.Remove(ctx, name)
}

// List lists as the backend does. A listing that covers whole folders of
// cached objects, and ends without error, then removes the copies there of
// objects it did not report: objects removed by another process. A copy
// made since the listing began is kept, as its object may be newer than
// the listing.
func (c *Backend) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	var folders []string
	// Not tree/: a tree pack the storage lost while the index still
	// names it is restored from its copy (check, repair index).
	for _, f := range []string{"index/", "snapshots/"} {
		if (prefix == "" || prefix == f) && c.cached(f+"x") {
			folders = append(folders, f)
		}
	}
	if len(folders) == 0 {
		return c.Backend.List(ctx, prefix, fn)
	}
	// A second of margin for file times coarser than the clock: a copy
	// removed by mistake is only downloaded again.
	start := time.Now().Add(-time.Second)
	listed := map[string]bool{}
	err := c.Backend.List(ctx, prefix, func(fi backends.Info) error {
		// Only the swept folders' names: a listing of everything
		// (stats) names every data pack too.
		for _, f := range folders {
			if strings.HasPrefix(fi.Name, f) {
				listed[fi.Name] = true
			}
		}
		return fn(fi)
	})
	if err != nil || ctx.Err() != nil {
		return err
	}
	for _, f := range folders {
		c.sweep(f, listed, start)
	}
	return nil
}

// sweep removes the copies in folder of objects not in listed, made before
// start.
func (c *Backend) sweep(folder string, listed map[string]bool, start time.Time) {
	root := c.path(folder)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(c.dir, p)
		if err != nil {
			return nil
		}
		name := filepath.ToSlash(rel)
		if listed[name] || backends.CheckName(name) != nil || !c.cached(name) {
			return nil
		}
		if fi, err := d.Info(); err != nil || !fi.ModTime().Before(start) {
			return nil
		}
		c.mu.Lock()
		if _, filling := c.fills[name]; !filling {
			c.gen[name]++
			_ = os.Remove(p)
		}
		c.mu.Unlock()
		return nil
	})
}

func (c *Backend) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	if !c.serve(ctx, name) {
		return c.Backend.Load(ctx, name, offset, length)
	}
	var out []byte
	err := c.load(ctx, name, offset, length, func(n int64) []byte {
		out = make([]byte, n)
		return out
	})
	return out, err
}

func (c *Backend) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	if !c.serve(ctx, name) {
		return backends.LoadInto(ctx, c.Backend, name, offset, buf)
	}
	return c.load(ctx, name, offset, int64(len(buf)), func(int64) []byte { return buf })
}

// load serves a range from the copy, fetching the whole object first when
// there is none.
func (c *Backend) load(ctx context.Context, name string, offset, length int64, alloc func(int64) []byte) error {
	if ok, err := c.loadCopy(name, offset, length, alloc); ok {
		return err
	}
	data, err := c.fetch(ctx, name)
	if err != nil {
		return err
	}
	size := int64(len(data))
	if offset < 0 || offset > size || length > size-offset {
		return fmt.Errorf("load %s: %w: offset %d, length %d, size %d", name, backends.ErrRange, offset, length, size)
	}
	if length < 0 {
		length = size - offset
	}
	copy(alloc(length), data[offset:offset+length])
	return nil
}

// loadCopy serves the range from the copy, if there is a readable one:
// ok is false when the backend must be asked.
func (c *Backend) loadCopy(name string, offset, length int64, alloc func(int64) []byte) (ok bool, err error) {
	f, err := os.Open(c.path(name))
	if err != nil {
		return false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	size := fi.Size()
	if offset < 0 || offset > size || length > size-offset {
		return true, fmt.Errorf("load %s: %w: offset %d, length %d, size %d", name, backends.ErrRange, offset, length, size)
	}
	if length < 0 {
		length = size - offset
	}
	if _, err := f.ReadAt(alloc(length), offset); err != nil {
		return false, nil // a damaged copy: the backend has the object
	}
	return true, nil
}

// fetch downloads the whole object, sharing one download among concurrent
// callers, and stores the copy unless the name was written or removed
// meanwhile.
func (c *Backend) fetch(ctx context.Context, name string) ([]byte, error) {
	for {
		c.mu.Lock()
		f, running := c.fills[name]
		if !running {
			f = &fill{done: make(chan struct{})}
			c.fills[name] = f
			gen := c.gen[name]
			c.mu.Unlock()
			f.data, f.err = c.Backend.Load(ctx, name, 0, -1)
			if f.err == nil {
				c.store(name, f.data, gen)
			}
			c.mu.Lock()
			delete(c.fills, name)
			c.mu.Unlock()
			close(f.done)
			return f.data, f.err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("load %s: %w", name, ctx.Err())
		case <-f.done:
		}
		// Another caller's canceled context is not ours: fetch again.
		if f.err == nil || !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			return f.data, f.err
		}
	}
}

// drop removes the copy of name and starts a new generation, which it
// returns, so that fills and writes in flight do not store their copies.
func (c *Backend) drop(name string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen[name]++
	_ = os.Remove(c.path(name))
	return c.gen[name]
}

// store writes data as the copy of name if name is still at generation gen.
// Failures leave no copy and are otherwise ignored.
func (c *Backend) store(name string, data []byte, gen uint64) {
	tmp, err := os.CreateTemp(filepath.Join(c.dir, tmpDir), "copy-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		c.mu.Lock()
		if c.gen[name] == gen {
			err = os.MkdirAll(filepath.Dir(c.path(name)), 0o700)
			if err == nil {
				err = os.Rename(tmp.Name(), c.path(name))
			}
		} else {
			err = errors.New("stale")
		}
		c.mu.Unlock()
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
}
