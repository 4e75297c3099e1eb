package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

func faultySource(t *testing.T) string {
	src := t.TempDir()
	for i, size := range []int{5 << 20, 3 << 20, 100_000, 10, 0} {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(j*31 + i*7 + j/4096)
		}
		os.WriteFile(filepath.Join(src, "f"+string(rune('a'+i))), b, 0o644)
	}
	os.MkdirAll(filepath.Join(src, "d", "e"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "e", "g"), []byte("deep"), 0o600)
	return src
}

func openOn(t *testing.T, be backends.Backend) (*repo.Repository, error) {
	return repo.Open(context.Background(), be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
}

// restoreEquals restores path from sn and compares it with want.
func restoreEquals(t *testing.T, r *repo.Repository, sn *repo.Snapshot, path, src string) {
	t.Helper()
	dst := t.TempDir()
	if _, err := restore.Run(context.Background(), r, sn, path, restore.Options{Target: dst}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, rel := range []string{"fa", "fb", "fc", "fd", "fe", "d/e/g"} {
		a, _ := os.ReadFile(filepath.Join(src, rel))
		b, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || string(a) != string(b) {
			t.Fatalf("restored %s differs (%v)", rel, err)
		}
	}
}

// TestIngestThroughFaults: with 5% of all storage calls failing (before or
// after taking effect), ingest through the retry filter completes and
// restores exactly; without retries it fails with a clear error and the
// repository stays valid and usable.
func TestIngestThroughFaults(t *testing.T) {
	ctx := context.Background()
	store := mem.New()
	repo.TestRepositoryOn(t, store) // init, with a clean backend
	src := faultySource(t)

	faulty := fault.New(store, fault.Options{Seed: 42, ErrorRate: 0.05, LateErrorRate: 0.02})
	be := retry.New(faulty, retry.Options{Attempts: 8, MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
	r, err := openOn(t, be)
	if err != nil {
		t.Fatalf("open through faults with retries: %v", err)
	}
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatalf("ingest through faults with retries: %v", err)
	}
	if c := faulty.Counts(); c.Errors+c.LateErrors == 0 {
		t.Fatalf("no fault was injected: %+v", c)
	}
	restoreEquals(t, r, res.Snapshot, src, src)
	r.Close()

	// Without retries the ingest fails, saying why.
	r2, err := openOn(t, fault.New(store, fault.Options{Seed: 7, ErrorRate: 0.05}))
	if err == nil {
		os.WriteFile(filepath.Join(src, "fa"), []byte("changed"), 0o644)
		_, err = ingest.Run(ctx, r2, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
		r2.Close()
	}
	if err == nil {
		t.Fatal("ingest through 5% faults without retries succeeded")
	}
	if !errors.Is(err, fault.ErrInjected) || !strings.Contains(err.Error(), "injected fault") {
		t.Fatalf("the error does not say what failed: %v", err)
	}

	// The repository is as valid as before: the first snapshot alone, and
	// it restores; a clean ingest works.
	clean, err := openOn(t, store)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	snaps, err := clean.Snapshots(ctx, nil)
	if err != nil || len(snaps) != 1 || snaps[0].ID != res.Snapshot.ID {
		t.Fatalf("after the failed ingest: %d snapshots (%v)", len(snaps), err)
	}
	src2 := faultySource(t)
	restoreEquals(t, clean, snaps[0], src, src2) // src was changed since
	res3, err := ingest.Run(ctx, clean, ingest.Options{Paths: []string{src2}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	restoreEquals(t, clean, res3.Snapshot, src2, src2)
}

// failData fails every data pack upload, as a full disk or a bucket that
// refuses writes would.
type failData struct{ backends.Backend }

var errNoRoom = errors.New("no room for data packs")

func (f failData) Save(ctx context.Context, name string, data []byte) error {
	if strings.HasPrefix(name, "data/") {
		return errNoRoom
	}
	return f.Backend.Save(ctx, name, data)
}

// The file-change cache is written while the last packs are stored, so an
// ingest whose last packs fail still leaves entries naming blobs that were
// never stored. The next ingest, with the same cache, must read those
// files again rather than trust the entries, and its snapshot restore
// whole.
func TestCacheOfFailedIngestIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	store := mem.New()
	repo.TestRepositoryOn(t, store)
	src := faultySource(t)
	cache := t.TempDir()
	open := func(be backends.Backend) *repo.Repository {
		r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := open(failData{store})
	_, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	r.Close()
	if !errors.Is(err, errNoRoom) {
		t.Fatalf("ingest with no room for data packs: %v", err)
	}
	r = open(store)
	defer r.Close()
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	// Only the empty file, which names no blob, may be taken as it was.
	if n := res.Snapshot.Summary.FilesUnchanged; n > 1 {
		t.Fatalf("%d files taken as unchanged from a failed ingest's cache", n)
	}
	restoreEquals(t, r, res.Snapshot, src, src)
}
