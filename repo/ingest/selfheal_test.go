package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// TestIngestHealsLostPack: when storage has lost a data pack that the
// index still lists, the next ingest of the same (unchanged) files stores
// their data again, and the new snapshot restores whole.
func TestIngestHealsLostPack(t *testing.T) {
	ctx := context.Background()
	store := mem.New()
	r := repo.TestRepositoryOn(t, store)
	src := faultySource(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	n, _, err := restore.Find(ctx, r, res.Snapshot, filepath.Join(src, "fa"))
	if err != nil {
		t.Fatal(err)
	}
	loc, ok, err := r.LookupBlob(n.Content[0].ID)
	if err != nil || !ok {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	if err := store.Remove(ctx, repo.PackName(id.DataBlob, loc.Pack)); err != nil {
		t.Fatal(err)
	}

	res2, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Snapshot.Summary.DataBlobs == 0 {
		t.Fatal("the second ingest stored nothing: the lost data was not stored again")
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res2.Snapshot, src, restore.Options{Target: dst}); err != nil {
		t.Fatalf("restore after healing: %v", err)
	}
	for _, rel := range []string{"fa", "fb", "fc"} {
		a, _ := os.ReadFile(filepath.Join(src, rel))
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(a) != string(b) {
			t.Fatalf("%s after healing: %v", rel, err)
		}
	}
}
