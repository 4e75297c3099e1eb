package cache_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/filter/cache"
	"github.com/cairn-backup/cairn/backends/mem"
)

func newCache(t *testing.T, b backends.Backend, cached func(string) bool) *cache.Backend {
	t.Helper()
	c, err := cache.New(b, cache.Options{Dir: t.TempDir(), Cached: cached})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newCache(t, mem.New(), nil) })
}

// TestConformanceCachingAll caches every object, so the suite runs through
// the cache's own paths.
func TestConformanceCachingAll(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return newCache(t, mem.New(), func(string) bool { return true })
	})
}

func TestMetadata(t *testing.T) {
	for name, want := range map[string]bool{
		"index/ab12": true, "snapshots/ab12": true, "tree/ab/ab12": true,
		"data/ab/ab12": false, "config": false, "keys/ab12": false, "locks/ab12": false, "indexes/x": false,
	} {
		if cache.Metadata(name) != want {
			t.Errorf("Metadata(%q) = %v", name, !want)
		}
	}
}

func TestReadThrough(t *testing.T) {
	ctx := t.Context()
	m := mem.New()
	data := []byte("0123456789")
	for _, name := range []string{"tree/ab/ab12", "data/ab/ab12", "config"} {
		m.Save(ctx, name, data)
	}
	counted := backendtest.Count(m)
	dir := t.TempDir()
	c, err := cache.New(counted, cache.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got, err := c.Load(ctx, "tree/ab/ab12", 2, 3); err != nil || string(got) != "234" {
			t.Fatalf("load range: %q, %v", got, err)
		}
		buf := make([]byte, 4)
		if err := c.LoadInto(ctx, "tree/ab/ab12", 6, buf); err != nil || string(buf) != "6789" {
			t.Fatalf("load into: %q, %v", buf, err)
		}
		if _, err := c.Load(ctx, "tree/ab/ab12", 8, 3); !errors.Is(err, backends.ErrRange) {
			t.Fatalf("load past the end: %v", err)
		}
		c.Load(ctx, "data/ab/ab12", 0, -1)
		c.Load(ctx, "config", 0, -1)
	}
	if n := counted.Calls("load"); n != 1+3+3 {
		t.Errorf("%d loads reached the backend, want 1 for the tree pack and 3 each for the others", n)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "tree/ab/ab12")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("copy: %q, %v", got, err)
	}
	for _, name := range []string{"data/ab/ab12", "config"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s was cached", name)
		}
	}

	// A new cache over the same folder serves the copy.
	c2, _ := cache.New(counted, cache.Options{Dir: dir})
	c2.Load(ctx, "tree/ab/ab12", 0, -1)
	if n := counted.Calls("load"); n != 7 {
		t.Errorf("a reopened cache asked the backend again")
	}

	if err := c.Remove(ctx, "tree/ab/ab12"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tree/ab/ab12")); err == nil {
		t.Errorf("copy kept after Remove")
	}
	if _, err := c.Load(ctx, "tree/ab/ab12", 0, -1); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("load after remove: %v", err)
	}
}

func TestWriteThrough(t *testing.T) {
	ctx := t.Context()
	counted := backendtest.Count(mem.New())
	c := newCache(t, counted, nil)
	c.Save(ctx, "snapshots/s1", []byte("snap"))
	c.Create(ctx, "index/i1", []byte("idx"))
	for name, want := range map[string]string{"snapshots/s1": "snap", "index/i1": "idx"} {
		if got, err := c.Load(ctx, name, 0, -1); err != nil || string(got) != want {
			t.Errorf("load %s: %q, %v", name, got, err)
		}
	}
	if n := counted.Calls("load"); n != 0 {
		t.Errorf("%d loads reached the backend after write-through", n)
	}
	// A failed Create stores no copy over the real object.
	if err := c.Create(ctx, "index/i1", []byte("other")); !errors.Is(err, backends.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if got, _ := c.Load(ctx, "index/i1", 0, -1); string(got) != "idx" {
		t.Errorf("after a failed create the cache serves %q", got)
	}
}

// gate holds every Load until released, counting them.
type gate struct {
	backends.Backend
	release chan struct{}
	mu      sync.Mutex
	loads   int
}

func (g *gate) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	g.mu.Lock()
	g.loads++
	g.mu.Unlock()
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Backend.Load(ctx, name, offset, length)
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.loads
}

func TestConcurrentReadersShareOneDownload(t *testing.T) {
	m := mem.New()
	m.Save(t.Context(), "tree/ab/x", []byte("tree pack"))
	g := &gate{Backend: m, release: make(chan struct{})}
	c := newCache(t, g, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := c.Load(t.Context(), "tree/ab/x", 0, 4); err != nil || string(got) != "tree" {
				t.Errorf("load: %q, %v", got, err)
			}
		})
	}
	for g.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	// A reader whose context ends while it waits gives up alone.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Load(ctx, "tree/ab/x", 0, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("load whose context ended: %v", err)
	}
	close(g.release)
	wg.Wait()
	if g.count() != 1 {
		t.Errorf("%d downloads, want 1", g.count())
	}
}

// TestUncached: under backends.Uncached a read asks the backend and
// neither uses nor replaces the copy; a removal still drops it.
func TestUncached(t *testing.T) {
	ctx := t.Context()
	m := mem.New()
	c := newCache(t, m, nil)
	name := "snapshots/ab12"
	if err := c.Save(ctx, name, []byte("copy")); err != nil {
		t.Fatal(err)
	}
	m.Save(ctx, name, []byte("stored")) // behind the cache's back
	if got, _ := c.Load(ctx, name, 0, -1); string(got) != "copy" {
		t.Fatalf("cached read: %q", got)
	}
	if !backends.MayServeCopy(c, name) || backends.MayServeCopy(c, "data/ab/ab12") || backends.MayServeCopy(m, name) {
		t.Fatal("MayServeCopy is wrong")
	}
	un := backends.Uncached(ctx)
	if got, err := c.Load(un, name, 0, -1); err != nil || string(got) != "stored" {
		t.Fatalf("uncached read: %q, %v", got, err)
	}
	buf := make([]byte, 3)
	if err := c.LoadInto(un, name, 1, buf); err != nil || string(buf) != "tor" {
		t.Fatalf("uncached LoadInto: %q, %v", buf, err)
	}
	if got, _ := c.Load(ctx, name, 0, -1); string(got) != "copy" {
		t.Fatalf("an uncached read replaced the copy: %q", got)
	}
	if err := c.Remove(un, name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, name, 0, -1); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("after an uncached Remove the copy is still served: %v", err)
	}
}

// A copy of an index segment or snapshot whose object another process
// removed (forget and prune on another host, after a rewrite purged a
// file) goes at the next whole listing of its folder; copies of listed
// objects, and a partial listing, keep theirs. Tree pack copies stay: one
// the storage lost is restored from its copy.
func TestListDropsCopiesOfRemovedObjects(t *testing.T) {
	ctx := t.Context()
	m := mem.New()
	names := []string{"index/aa11", "index/bb22", "snapshots/cc33", "snapshots/dd44", "tree/ee/ee55", "tree/ff/ff66"}
	for _, name := range names {
		m.Save(ctx, name, []byte(name))
	}
	dir := t.TempDir()
	c, err := cache.New(m, cache.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, err := c.Load(ctx, name, 0, -1); err != nil {
			t.Fatal(err)
		}
	}
	// Made a while ago, as copies kept across runs are.
	old := time.Now().Add(-time.Hour)
	for _, name := range names {
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	// Another host's prune removes one object of each folder.
	gone := map[string]bool{"index/bb22": true, "snapshots/dd44": true}
	m.Remove(ctx, "tree/ff/ff66")
	for name := range gone {
		m.Remove(ctx, name)
	}
	copied := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	// A listing that stops early proves nothing.
	stop := errors.New("stop")
	if err := c.List(ctx, "snapshots/", func(backends.Info) error { return stop }); err != stop {
		t.Fatalf("stopped listing: %v", err)
	}
	if !copied("snapshots/dd44") {
		t.Errorf("a partial listing removed a copy")
	}
	for _, folder := range []string{"index/", "snapshots/", "tree/"} {
		n := 0
		if err := c.List(ctx, folder, func(backends.Info) error { n++; return nil }); err != nil || n != 1 {
			t.Fatalf("list %s: %d, %v", folder, n, err)
		}
	}
	for _, name := range names {
		if copied(name) == gone[name] {
			t.Errorf("%s: copy kept %v, object removed %v", name, copied(name), gone[name])
		}
	}
	// A copy made after the listing began may be of a newer object: kept.
	m.Save(ctx, "snapshots/ab99", []byte("new"))
	c.Load(ctx, "snapshots/ab99", 0, -1)
	m.Remove(ctx, "snapshots/ab99")
	c.List(ctx, "snapshots/", func(backends.Info) error { return nil })
	if !copied("snapshots/ab99") {
		t.Errorf("a fresh copy was removed")
	}
}
