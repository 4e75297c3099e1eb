package restore_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A large new file keeps its name taken by an empty file while it is
// written under a temporary name. When that restore then fails (here its
// temporary is removed by another restore into the same target, which
// took it for one a killed restore left), it removed whatever was at the
// name by then: the complete file the other restore (or a user's cp) had
// put there meanwhile was lost, and the target held no file at that name.
// Only the empty file it made itself may be removed.
func TestFailedLargeFileLeavesAnotherFileAtItsName(t *testing.T) {
	bctx := context.Background()
	be := &atDataRead{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	data := make([]byte, 17<<20)
	rand.New(rand.NewSource(3)).Read(data)
	if err := os.WriteFile(filepath.Join(src, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "big"), old, old)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	final := filepath.Join(dst, "big")
	other := []byte("the other writer's complete copy\n")
	var done atomic.Bool
	check := func() {
		if done.Load() {
			return
		}
		tmps, _ := filepath.Glob(filepath.Join(dst, ".big"+restore.PartialSuffix+"*"))
		// Workers read chunks at once: only one of them acts.
		if len(tmps) != 1 || !done.CompareAndSwap(false, true) {
			return
		}
		os.Remove(tmps[0])
		o := filepath.Join(dst, "other")
		if err := os.WriteFile(o, other, 0o644); err != nil {
			t.Error(err)
		}
		if err := os.Rename(o, final); err != nil {
			t.Error(err)
		}
	}
	be.check.Store(&check)
	var mu sync.Mutex
	var warned []string
	_, err = restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true,
		Warn: func(p string, err error) { mu.Lock(); warned = append(warned, p); mu.Unlock() }})
	be.check.Store(nil)
	if !done.Load() {
		t.Fatal("the temporary was not seen while the data was read")
	}
	if !errors.Is(err, restore.ErrIncomplete) {
		t.Errorf("restore: %v, want ErrIncomplete", err)
	}
	got, rerr := os.ReadFile(final)
	if rerr != nil || !bytes.Equal(got, other) {
		t.Fatalf("the file another writer put at the name: %v, %q (warned %v)", rerr, got, warned)
	}
}
