package repo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// inFlight counts the loads of snapshots and index segments running at
// once, and can fail the loads of one object.
type inFlight struct {
	backends.Backend
	mu       sync.Mutex
	now, max map[string]int // by folder: "snapshots", "index"
	total    map[string]int // loads so far, by folder
	fail     string         // an object name whose loads fail
}

func (b *inFlight) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	folder, _, _ := strings.Cut(name, "/")
	if folder != "snapshots" && folder != "index" {
		return b.Backend.Load(ctx, name, off, n)
	}
	b.mu.Lock()
	b.now[folder]++
	b.max[folder] = max(b.max[folder], b.now[folder])
	if b.total != nil {
		b.total[folder]++
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.now[folder]--
		b.mu.Unlock()
	}()
	time.Sleep(5 * time.Millisecond) // a round trip to remote storage
	if name == b.fail {
		return nil, errors.New("connection reset by peer")
	}
	return b.Backend.Load(ctx, name, off, n)
}

func (b *inFlight) Unwrap() backends.Backend { return b.Backend }

// coldOpen makes a fixture with n more snapshots and opens it through an
// inFlight backend with a new, empty cache, as a new machine would.
func coldOpen(t *testing.T, n int) (*repotest.Fixture, *inFlight, *repo.Repository) {
	f := repotest.New(t)
	for range n {
		f.Ingest()
	}
	be := &inFlight{Backend: f.Backend, now: map[string]int{}, max: map[string]int{}}
	r, err := repo.Open(context.Background(), be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return f, be, r
}

// A cold open (a new machine, a lost cache) reads every snapshot and index
// segment. Read one at a time, each waits its own round trip to remote
// storage; they are read several at once.
func TestColdOpenReadsSnapshotsAndSegmentsAtOnce(t *testing.T) {
	ctx := context.Background()
	f, be, r := coldOpen(t, 10)
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(f.Snapshots) {
		t.Fatalf("listed %d snapshots, want %d", len(snaps), len(f.Snapshots))
	}
	for i, sn := range snaps {
		if sn.ID != f.Snapshots[i].ID {
			t.Fatalf("snapshot %d is %s, want %s", i, sn.ID, f.Snapshots[i].ID)
		}
	}
	for _, folder := range []string{"snapshots", "index"} {
		if be.max[folder] < 2 {
			t.Errorf("%s were read one at a time", folder)
		}
	}
}

// When the storage fails for one snapshot (not damage: the connection
// broke), listing fails with that error rather than leaving the snapshot
// out or reporting the reads it cancelled.
func TestColdOpenFailsWithTheStorageError(t *testing.T) {
	ctx := context.Background()
	f, be, r := coldOpen(t, 6)
	be.fail = "snapshots/" + f.Snapshots[3].ID.String()
	var warned []error
	_, err := r.Snapshots(ctx, func(err error) { warned = append(warned, err) })
	if err == nil || !strings.Contains(err.Error(), "connection reset by peer") {
		t.Fatalf("listing with a broken connection: %v, want the storage's error", err)
	}
	if len(warned) > 0 {
		t.Fatalf("warned %v for a storage failure", warned)
	}
	be.fail = ""
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil || len(snaps) != len(f.Snapshots) {
		t.Fatalf("after the storage came back: %d snapshots, %v; want %d", len(snaps), err, len(f.Snapshots))
	}
}

// Listing snapshots on a new machine (the first command after a disaster)
// needs their catalogue only: it neither downloads the index segments nor
// waits for them, even under a lock. The next command that reads trees
// brings the same cache's index up to date.
func TestCatalogueOnlyListsWithoutIndexSegments(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	for range 4 {
		f.Ingest()
	}
	be := &inFlight{Backend: f.Backend, now: map[string]int{}, max: map[string]int{}, total: map[string]int{}}
	cache := t.TempDir()
	opt := repo.Options{Password: []byte(repo.TestPassword), CacheDir: cache, KDF: &repo.TestKDF, CatalogueOnly: true}
	r, err := repo.Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	lock, err := r.Lock(ctx, false, "snapshots")
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(f.Snapshots) {
		t.Fatalf("listed %d snapshots, want %d", len(snaps), len(f.Snapshots))
	}
	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if be.total["index"] != 0 {
		t.Fatalf("listing snapshots loaded %d index segments", be.total["index"])
	}
	if be.total["snapshots"] != len(f.Snapshots) {
		t.Fatalf("listing loaded %d snapshots, want %d", be.total["snapshots"], len(f.Snapshots))
	}

	opt.CatalogueOnly = false
	r, err = repo.Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if be.total["index"] == 0 {
		t.Fatal("a normal open after a catalogue-only one loaded no index segment")
	}
	if _, err := r.LoadTree(ctx, f.Snapshots[len(f.Snapshots)-1].Tree); err != nil {
		t.Fatalf("the latest snapshot's tree after a catalogue-only listing: %v", err)
	}
}
