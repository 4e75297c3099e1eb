package backendtest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

// testSaveReplaces checks that readers of an object being replaced see the
// old or the new content, never a mix or a prefix.
func testSaveReplaces(t *testing.T, b backends.Backend) {
	v1, v2 := bytes.Repeat([]byte("1"), 64<<10), bytes.Repeat([]byte("2"), 96<<10)
	save(t, b, "locks/l", v1)
	save(t, b, "locks/l", v2)
	mustEqual(t, b, "locks/l", v2)

	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for i := range 40 {
			if err := b.Save(t.Context(), "locks/l", [][]byte{v1, v2}[i%2]); err != nil {
				t.Errorf("save: %v", err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for !done.Load() {
				got, err := b.Load(t.Context(), "locks/l", 0, -1)
				if err != nil {
					t.Errorf("load during replace: %v", err)
					return
				}
				if !bytes.Equal(got, v1) && !bytes.Equal(got, v2) {
					t.Errorf("load during replace: got %d bytes that are neither version", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
}

func testCreate(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	orig := []byte("original")
	if err := b.Create(ctx, "config", orig); err != nil {
		t.Fatalf("create: %v", err)
	}
	mustFail(t, "second create", b.Create(ctx, "config", []byte("other")), backends.ErrExists)
	mustEqual(t, b, "config", orig)

	save(t, b, "locks/x", orig)
	mustFail(t, "create over saved object", b.Create(ctx, "locks/x", []byte("other")), backends.ErrExists)
	mustEqual(t, b, "locks/x", orig)

	if err := b.Create(ctx, "deep/new/folder/obj", orig); err != nil {
		t.Fatalf("create in new folder: %v", err)
	}
	mustEqual(t, b, "deep/new/folder/obj", orig)
}

// testCreateRace checks that of concurrent creators exactly one wins and its
// data is what is stored.
func testCreateRace(t *testing.T, b backends.Backend) {
	const n = 8
	var wins, winner atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := b.Create(t.Context(), "keys/race", []byte{byte(i)})
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(int32(i))
			case !errors.Is(err, backends.ErrExists):
				t.Errorf("create %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of %d concurrent creates succeeded, want 1", wins.Load(), n)
	}
	mustEqual(t, b, "keys/race", []byte{byte(winner.Load())})
}

// testListDuringSaves checks that a listing never shows an object that is
// still being written, under its own name or any other.
func testListDuringSaves(t *testing.T, b backends.Backend) {
	const size, count = 1 << 20, 12
	want := make(map[string]bool)
	for i := range count {
		want[fmt.Sprintf("data/ab/obj-%02d", i)] = true
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		for i := range count {
			name := fmt.Sprintf("data/ab/obj-%02d", i)
			if err := b.Save(t.Context(), name, randomBytes(uint64(i), size)); err != nil {
				t.Errorf("save %s: %v", name, err)
				return
			}
		}
	})
	for !done.Load() {
		err := b.List(t.Context(), "", func(fi backends.Info) error {
			if !want[fi.Name] {
				return fmt.Errorf("listed %q, which was never saved", fi.Name)
			}
			if fi.Size != size {
				return fmt.Errorf("listed %s with size %d of %d", fi.Name, fi.Size, size)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
			break
		}
	}
	wg.Wait()
	if got := listAll(t, b, "data/"); len(got) != count {
		t.Errorf("listed %d objects after the saves, want %d", len(got), count)
	}
}

// testConcurrent saves, loads and stats many objects from several
// goroutines, spread over folders that do not exist yet.
func testConcurrent(t *testing.T, b backends.Backend) {
	const workers, each = 8, 20
	content := func(w, i int) []byte { return randomBytes(uint64(w<<16|i), 1000+w*each+i) }
	name := func(w, i int) string { return fmt.Sprintf("data/%02x/w%d-%d", (w*each+i)%7, w, i) }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			for i := range each {
				n, data := name(w, i), content(w, i)
				if err := b.Save(ctx, n, data); err != nil {
					t.Errorf("save %s: %v", n, err)
					return
				}
				got, err := b.Load(ctx, n, 0, -1)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("load %s: %d bytes, %v; want %d bytes", n, len(got), err, len(data))
					return
				}
				// Read a neighbour's object, which may not exist yet.
				o := (w + 1) % workers
				if fi, err := b.Stat(ctx, name(o, i)); err == nil && fi.Size != int64(len(content(o, i))) {
					t.Errorf("stat %s: size %d, want %d", fi.Name, fi.Size, len(content(o, i)))
				} else if err != nil && !errors.Is(err, backends.ErrNotFound) {
					t.Errorf("stat %s: %v", name(o, i), err)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := listAll(t, b, "data/")
	if len(got) != workers*each {
		t.Fatalf("listed %d objects, want %d", len(got), workers*each)
	}
	for w := range workers {
		for i := range each {
			if got[name(w, i)] != int64(len(content(w, i))) {
				t.Errorf("listed %s with size %d, want %d", name(w, i), got[name(w, i)], len(content(w, i)))
			}
		}
	}
}

func testLarge(t *testing.T, b backends.Backend) {
	const size = 20 << 20
	data := randomBytes(20, size)
	save(t, b, "data/la/large", data)
	mustEqual(t, b, "data/la/large", data)
	off := int64(size/2 - 5)
	if got := load(t, b, "data/la/large", off, 1<<20); !bytes.Equal(got, data[off:off+1<<20]) {
		t.Errorf("ranged load of the middle MiB differs")
	}
	if got := load(t, b, "data/la/large", size-3, -1); !bytes.Equal(got, data[size-3:]) {
		t.Errorf("load of the tail differs")
	}
	fi, err := b.Stat(t.Context(), "data/la/large")
	if err != nil || fi.Size != size {
		t.Errorf("stat: %+v, %v; want size %d", fi, err, size)
	}
}
