package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Only files the last ingest did not record are read ahead: the others
// are mostly unchanged, and an unchanged ingest must read no file data.
func TestPrefetchOnlyNewFiles(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	old := filepath.Join(src, "old")
	if err := os.WriteFile(old, []byte("recorded"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, r, Options{Paths: []string{src}, Host: "h", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	g := &ingester{cache: newFileCache(ctx, r, "h", "s", false)}
	g.prefetch = make(chan prefetchJob, 4)
	fresh := filepath.Join(src, "new")
	for _, p := range []string{old, fresh} {
		g.prefetchFile(p, &tree.Node{Kind: tree.KindFile, Size: 8})
	}
	close(g.prefetch)
	var got []string
	for j := range g.prefetch {
		got = append(got, j.path)
	}
	if len(got) != 1 || got[0] != fresh {
		t.Fatalf("read ahead %q, want only the new file %q", got, fresh)
	}
	// Another source has recorded nothing: everything is new to it.
	if newFileCache(ctx, r, "h", "other", false).known(old) {
		t.Fatal("a file no ingest of this source recorded counts as known")
	}
}
