package repo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A reader brings its local index up to date when it opens the repository
// (and when it locks it); an ingest may commit a snapshot right after.
// When the reader then lists that snapshot, as restore latest or copy do,
// it must be able to read it, not fail with its blobs "in no index
// segment" and a suggestion to repair the repository.
func TestSnapshotCommittedAfterIndexSync(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	reader := f.Open() // synced now
	if err := os.WriteFile(filepath.Join(f.Source, "docs", "late.txt"), []byte("committed after the reader synced\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	late := f.Ingest()
	snaps, err := reader.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 || snaps[len(snaps)-1].ID != late.ID {
		t.Fatalf("the new snapshot is not listed")
	}
	if err := reader.Walk(ctx, snaps[len(snaps)-1], func(string, *tree.Node) (bool, error) { return true, nil }, nil); err != nil {
		t.Fatalf("reading a snapshot committed after the index was synced: %v", err)
	}
}
