package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

func testRoundTrip(t *testing.T, b backends.Backend) {
	data := randomBytes(1, 1000)
	save(t, b, "config", data)
	mustEqual(t, b, "config", data)

	save(t, b, "empty", nil)
	if got := load(t, b, "empty", 0, -1); len(got) != 0 {
		t.Errorf("empty object loads as %d bytes", len(got))
	}
}

func testLoadRange(t *testing.T, b backends.Backend) {
	data := randomBytes(2, 1000)
	save(t, b, "obj", data)
	for _, r := range []struct{ off, n, from, to int64 }{
		{0, -1, 0, 1000},
		{0, 1000, 0, 1000},
		{10, 20, 10, 30},
		{500, -1, 500, 1000},
		{999, 1, 999, 1000},
		{999, -1, 999, 1000},
		{0, 0, 0, 0},
		{1000, 0, 1000, 1000},
		{1000, -1, 1000, 1000},
	} {
		got := load(t, b, "obj", r.off, r.n)
		if !bytes.Equal(got, data[r.from:r.to]) {
			t.Errorf("load offset %d length %d: got %d bytes, want bytes %d..%d", r.off, r.n, len(got), r.from, r.to)
		}
	}
	for _, r := range []struct{ off, n int64 }{
		{1001, -1}, {1001, 0}, {0, 1001}, {999, 2}, {1000, 1}, {-1, 10}, {1 << 62, 1 << 62},
	} {
		_, err := b.Load(t.Context(), "obj", r.off, r.n)
		mustFail(t, fmt.Sprintf("load offset %d length %d of 1000", r.off, r.n), err, backends.ErrRange)
	}
}

func testNotFound(t *testing.T, b backends.Backend) {
	save(t, b, "data/ab/abcd", []byte("x"))
	// Missing anywhere, a folder holding objects, an object's "child".
	for _, name := range []string{"data/00/missing", "data/ab/abce", "data/ab", "data", "data/ab/abcd/x"} {
		_, err := b.Load(t.Context(), name, 0, -1)
		mustFail(t, "load "+name, err, backends.ErrNotFound)
		_, err = b.Stat(t.Context(), name)
		mustFail(t, "stat "+name, err, backends.ErrNotFound)
		err = b.Remove(t.Context(), name)
		mustFail(t, "remove "+name, err, backends.ErrNotFound)
	}
	mustEqual(t, b, "data/ab/abcd", []byte("x"))
}

func testInvalidName(t *testing.T, b backends.Backend) {
	ctx := t.Context()
	for _, name := range []string{"", "/abs", "a//b", "a/", "..", "../x", "a/../b", "./a", ".tmp-1", "data/.tmp-1", `a\b`, "a\x00b"} {
		mustFail(t, fmt.Sprintf("save %q", name), b.Save(ctx, name, nil), backends.ErrInvalidName)
		mustFail(t, fmt.Sprintf("create %q", name), b.Create(ctx, name, nil), backends.ErrInvalidName)
		_, err := b.Load(ctx, name, 0, -1)
		mustFail(t, fmt.Sprintf("load %q", name), err, backends.ErrInvalidName)
		_, err = b.Stat(ctx, name)
		mustFail(t, fmt.Sprintf("stat %q", name), err, backends.ErrInvalidName)
		mustFail(t, fmt.Sprintf("remove %q", name), b.Remove(ctx, name), backends.ErrInvalidName)
	}
	for _, prefix := range []string{"/", "../", "a//", ".tmp-"} {
		err := b.List(ctx, prefix, func(backends.Info) error { return nil })
		mustFail(t, fmt.Sprintf("list %q", prefix), err, backends.ErrInvalidName)
	}
}

func testStat(t *testing.T, b backends.Backend) {
	for _, size := range []int{0, 1, 4103} {
		name := fmt.Sprintf("snapshots/size-%d", size)
		save(t, b, name, randomBytes(uint64(size), size))
		fi, err := b.Stat(t.Context(), name)
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if fi.Name != name || fi.Size != int64(size) || fi.ModTime.IsZero() {
			t.Errorf("stat %s = %+v, want that name, size %d and a time", name, fi, size)
		}
	}
}

func testRemove(t *testing.T, b backends.Backend) {
	save(t, b, "locks/a", []byte("a"))
	save(t, b, "locks/b", []byte("b"))
	if err := b.Remove(t.Context(), "locks/a"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	_, err := b.Stat(t.Context(), "locks/a")
	mustFail(t, "stat after remove", err, backends.ErrNotFound)
	_, err = b.Load(t.Context(), "locks/a", 0, -1)
	mustFail(t, "load after remove", err, backends.ErrNotFound)
	mustFail(t, "second remove", b.Remove(t.Context(), "locks/a"), backends.ErrNotFound)
	if got := listAll(t, b, "locks/"); len(got) != 1 || got["locks/b"] != 1 {
		t.Errorf("list after remove = %v, want only locks/b", got)
	}
	mustEqual(t, b, "locks/b", []byte("b"))

	save(t, b, "locks/a", []byte("again"))
	mustEqual(t, b, "locks/a", []byte("again"))
}

func testNestedNames(t *testing.T, b backends.Backend) {
	names := []string{"a/b/c/d/e/f/obj", "a/b/x", "a/y", "ab"}
	for i, name := range names {
		save(t, b, name, []byte(name))
		if i == 0 {
			mustEqual(t, b, name, []byte(name)) // before the siblings exist
		}
	}
	for _, name := range names {
		mustEqual(t, b, name, []byte(name))
	}
	for prefix, want := range map[string]int{"a/": 3, "a/b/": 2, "a/b/c/d/e/f/": 1, "a": 4, "a/b/c/": 1} {
		if got := listAll(t, b, prefix); len(got) != want {
			t.Errorf("list %q = %v, want %d objects", prefix, got, want)
		}
	}
}

func testNoAliasing(t *testing.T, b backends.Backend) {
	orig := randomBytes(3, 100)
	buf := bytes.Clone(orig)
	save(t, b, "obj", buf)
	buf[0] ^= 0xff
	mustEqual(t, b, "obj", orig)

	got := load(t, b, "obj", 0, -1)
	got[0] ^= 0xff
	part := load(t, b, "obj", 10, 10)
	part[0] ^= 0xff
	mustEqual(t, b, "obj", orig)

	buf = bytes.Clone(orig)
	if err := b.Create(t.Context(), "created", buf); err != nil {
		t.Fatalf("create: %v", err)
	}
	buf[0] ^= 0xff
	mustEqual(t, b, "created", orig)
}

func testCanceledContext(t *testing.T, b backends.Backend) {
	save(t, b, "present", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	mustFail(t, "save", b.Save(ctx, "obj", []byte("x")), context.Canceled)
	mustFail(t, "create", b.Create(ctx, "obj", []byte("x")), context.Canceled)
	_, err := b.Load(ctx, "present", 0, -1)
	mustFail(t, "load", err, context.Canceled)
	_, err = b.Stat(ctx, "present")
	mustFail(t, "stat", err, context.Canceled)
	err = b.List(ctx, "", func(backends.Info) error { return nil })
	mustFail(t, "list", err, context.Canceled)
	mustFail(t, "remove", b.Remove(ctx, "present"), context.Canceled)

	_, err = b.Stat(t.Context(), "obj")
	mustFail(t, "stat after canceled save", err, backends.ErrNotFound)
	mustEqual(t, b, "present", []byte("x"))
}
