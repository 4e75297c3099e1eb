package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// A sparse file cut short, while it is read, to a size that ends in the
// hole before its last data region is recorded with the size it has
// now: the hole leading to the lost region must not be kept whole, which
// gave a file of a size it never had (5 GiB of a 5 GiB + 1 MiB file cut
// to 2 GiB).
func TestSparseFileShrinksBeforeLastRegion(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	p := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const far, cut = 64 << 20, 8 << 20
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("tail"), far); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := fsmeta.StatNoXattrs(p)
	if err != nil {
		t.Fatal(err)
	}
	afterExtents = func(string) {
		if err := os.Truncate(p, cut); err != nil {
			t.Error(err)
		}
	}
	defer func() { afterExtents = nil }()
	g := &ingester{ctx: ctx, r: r, saver: r.NewDryRunSaver(ctx)}
	w := &fileWorker{g: g}
	fj := &fileJob{path: p, node: n}
	content, size, err := w.readFile(fj)
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, c := range content {
		sum += c.Size
	}
	if size != cut || sum != cut {
		t.Errorf("recorded %d bytes (chunks %d), want the %d the file has now", size, sum, cut)
	}
}
