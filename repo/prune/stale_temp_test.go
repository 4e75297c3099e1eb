package prune_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/prune"
)

// A copy (or a prune's repack) killed while it wrote a pack leaves an
// unfinished pack file at the top of a local repository. Only ingest
// removed those, so a copy destination, which no ingest writes, kept
// every one forever, although copy's help says prune removes them. Prune
// now removes those untouched for the grace period, and no younger one.
func TestPruneRemovesStaleTempFiles(t *testing.T) {
	ctx := context.Background()
	be, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo.TestRepositoryOn(t, be)
	old, _ := be.TempFile()
	old.Write([]byte("half a pack"))
	old.Close()
	fresh, _ := be.TempFile()
	fresh.Close()
	long := time.Now().Add(-prune.DefaultGracePeriod - time.Hour)
	os.Chtimes(old.Name(), long, long)

	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	opt := prune.DefaultOptions()
	opt.Lock = l
	opt.AllowNoSnapshots = true
	if _, err := prune.Run(l.Context(), r, opt); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old.Name()); !os.IsNotExist(err) {
		t.Fatalf("prune left a stale unfinished pack file: %v", err)
	}
	if _, err := os.Stat(fresh.Name()); err != nil {
		t.Fatalf("prune removed a fresh one: %v", err)
	}
}
