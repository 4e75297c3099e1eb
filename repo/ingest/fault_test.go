package ingest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
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

// failData lets the first ok data pack uploads through and fails every
// later one, as a disk that fills up or a bucket that starts refusing
// writes would (ok 0: every one fails).
type failData struct {
	backends.Backend
	mu sync.Mutex
	ok int
}

var errNoRoom = errors.New("no room for data packs")

func (f *failData) Save(ctx context.Context, name string, data []byte) error {
	if strings.HasPrefix(name, "data/") {
		f.mu.Lock()
		full := f.ok <= 0
		f.ok--
		f.mu.Unlock()
		if full {
			return errNoRoom
		}
	}
	return f.Backend.Save(ctx, name, data)
}

// openWithCache opens the test repository on be with the file-change
// cache in cache, as the next run on the same host would.
func openWithCache(t *testing.T, be backends.Backend, cache string) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	return r
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
	r := openWithCache(t, &failData{Backend: store}, cache)
	_, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	r.Close()
	if !errors.Is(err, errNoRoom) {
		t.Fatalf("ingest with no room for data packs: %v", err)
	}
	r = openWithCache(t, store, cache)
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

// An ingest that fails part way (a full disk) still indexes the packs it
// did store, as an interrupted one does: none is left an orphan, and the
// next ingest reuses them instead of storing their data again.
func TestFailedIngestIndexesStoredPacks(t *testing.T) {
	ctx := context.Background()
	store := mem.New()
	repo.TestRepositoryOn(t, store)
	src := t.TempDir()
	rnd := rand.New(rand.NewChaCha8([32]byte{1}))
	for i := 0; i < 4; i++ {
		b := make([]byte, 12<<20)
		for j := 0; j < len(b); j += 8 {
			binary.LittleEndian.PutUint64(b[j:], rnd.Uint64())
		}
		os.WriteFile(filepath.Join(src, fmt.Sprintf("r%d", i)), b, 0o644)
	}
	cache := t.TempDir()
	r := openWithCache(t, &failData{Backend: store, ok: 1}, cache)
	_, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	r.Close()
	if !errors.Is(err, errNoRoom) {
		t.Fatalf("ingest with room for one data pack: %v", err)
	}
	r = openWithCache(t, store, cache)
	defer r.Close()
	packs, err := r.ListPacks(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) == 0 {
		t.Fatal("the failed ingest stored no pack")
	}
	indexed := map[id.ID]bool{}
	err = store.List(ctx, "index/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		if err != nil {
			return err
		}
		s, err := r.LoadSegment(ctx, sid)
		if err != nil {
			return err
		}
		for _, p := range s.Packs {
			indexed[p.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pid := range packs {
		if !indexed[pid] {
			t.Fatalf("pack %s stored by the failed ingest is in no index segment", pid.Short())
		}
	}
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if total, added := res.Snapshot.Summary.TotalBytes, res.Snapshot.Summary.DataAdded; added >= total {
		t.Fatalf("the next ingest added %d of %d bytes: it reused nothing the failed one stored", added, total)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for i := 0; i < 4; i++ {
		a, _ := os.ReadFile(filepath.Join(src, fmt.Sprintf("r%d", i)))
		b, err := os.ReadFile(filepath.Join(dst, fmt.Sprintf("r%d", i)))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("restored r%d differs (%v)", i, err)
		}
	}
}
