package prune_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/prune"
	"github.com/cairn-backup/cairn/repo/restore"
)

// TestReviewBlobIDTypeConfusion: a blob's ID does not depend on its type,
// but the Saver, the local index and prune's placeUsed treat an ID as one
// blob whatever its type. A 6-byte file holding exactly the plaintext of
// an empty folder's tree blob ("CRNT" 01 00) shares that tree's ID, so one
// of the two is never stored: the committed snapshot does not restore, and
// prune refuses on it forever.
func TestReviewBlobIDTypeConfusion(t *testing.T) {
	w := newWorld(t, 7)
	dir := filepath.Join(w.tmp, "src")
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("CRNT\x01\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	l, err := r.Lock(w.ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(l.Context(), r, ingest.Options{Paths: []string{dir}, Host: "h"})
	l.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(w.ctx, r, res.Snapshot, "", restore.Options{Target: t.TempDir()}); err != nil {
		t.Errorf("restore of a just-committed snapshot: %v", err)
	}
	w.advance(prune.DefaultGracePeriod + 1)
	if _, err := w.prune(prune.DefaultOptions()); err != nil {
		t.Errorf("prune of a healthy repository: %v", err)
	}
}

// TestReviewHealingIsHostLocal: after an ingest on host A stores again the
// blobs of a lost pack, only A's cache reads the new copies (index.Relocate
// touches the local cache only). Host B, which knew the old segment, keeps
// locating them in the lost pack even after syncing, and cannot restore
// the snapshot that A just committed and verified.
func TestReviewHealingIsHostLocal(t *testing.T) {
	w := newWorld(t, 8)
	hostA, hostB := w.cacheDir(), w.cacheDir()
	files := map[string][]byte{"a": random(11, 5000), "b": random(12, 7000)}
	first := w.ingestFiles(hostA, "src", files)

	// Host B learns the index as it is now.
	rb := w.open(hostB, w.be)
	rb.Close()

	// Storage loses the data pack.
	r := w.open(hostA, w.be)
	n, _, err := restore.Find(w.ctx, r, first, filepath.Join(w.tmp, "src", "a"))
	if err != nil {
		t.Fatal(err)
	}
	loc, ok, err := r.LookupBlob(n.Content[0].ID)
	r.Close()
	if err != nil || !ok {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	if err := w.be.Remove(w.ctx, repo.PackName(id.DataBlob, loc.Pack)); err != nil {
		t.Fatal(err)
	}

	// Host A heals it.
	second := w.ingestFiles(hostA, "src", files)
	ra := w.open(hostA, w.be)
	if _, err := restore.Run(w.ctx, ra, second, "", restore.Options{Target: t.TempDir()}); err != nil {
		t.Fatalf("host A cannot restore its healed snapshot: %v", err)
	}
	ra.Close()

	// Host B syncs (Open runs SyncIndex) and restores the same snapshot.
	rb = w.open(hostB, w.be)
	defer rb.Close()
	if _, err := restore.Run(w.ctx, rb, second, "", restore.Options{Target: t.TempDir()}); err != nil {
		t.Errorf("host B cannot restore the snapshot host A healed: %v", err)
	}
}
