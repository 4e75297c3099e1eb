package backendtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

// testLoadInto checks the optional LoaderInto ability where a backend has
// it: the same bytes and errors as Load.
func testLoadInto(t *testing.T, b backends.Backend) {
	li, ok := b.(backends.LoaderInto)
	if !ok {
		t.Skip("backend has no LoadInto")
	}
	ctx := context.Background()
	data := []byte("0123456789abcdef")
	if err := b.Save(ctx, "data/ab/into", data); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if err := li.LoadInto(ctx, "data/ab/into", 4, buf); err != nil || !bytes.Equal(buf, data[4:10]) {
		t.Fatalf("LoadInto(4, 6) = %q, %v", buf, err)
	}
	if err := li.LoadInto(ctx, "data/ab/into", 12, make([]byte, 8)); !errors.Is(err, backends.ErrRange) {
		t.Fatalf("LoadInto past the end: %v, want ErrRange", err)
	}
	if err := li.LoadInto(ctx, "data/ab/missing", 0, buf); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("LoadInto of a missing object: %v, want ErrNotFound", err)
	}
}

// testFileSaver checks the optional FileSaver ability: a temporary file is
// never listed, and SaveFile stores its content and removes it.
func testFileSaver(t *testing.T, b backends.Backend) {
	fsv, ok := b.(backends.FileSaver)
	if !ok {
		t.Skip("backend has no FileSaver")
	}
	ctx := context.Background()
	f, err := fsv.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("pack bytes "), 1000)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	listed := 0
	b.List(ctx, "", func(backends.Info) error { listed++; return nil })
	if listed != 0 {
		t.Fatalf("a temporary file is listed (%d objects)", listed)
	}
	tmp := f.Name()
	if err := fsv.SaveFile(ctx, "data/cd/fromfile", f); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx, "data/cd/fromfile", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load after SaveFile: %d bytes, %v", len(got), err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file %s still there: %v", tmp, err)
	}
}
