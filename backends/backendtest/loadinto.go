package backendtest

import (
	"bytes"
	"context"
	"errors"
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
