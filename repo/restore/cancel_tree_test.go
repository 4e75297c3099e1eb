package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// cancelOnTree cancels the restore on the at-th read of a tree pack,
// and answers that read with the context's error, as a storage call cut
// short by the interrupt does.
type cancelOnTree struct {
	backends.Backend
	at     atomic.Int64 // cancel on this tree read (0: never)
	cancel atomic.Pointer[context.CancelFunc]
	loads  atomic.Int64
}

func (c *cancelOnTree) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.TreeBlob.String()+"/") {
		if n := c.loads.Add(1); n == c.at.Load() {
			if f := c.cancel.Load(); f != nil {
				(*f)()
			}
			return nil, ctx.Err()
		}
	}
	return c.Backend.Load(ctx, name, off, length)
}

// A restore interrupted while it reads a folder's listing is stopped, not
// failed: it must not report the folder as "directory contents lost" nor
// count an error.
func TestCancelWhileLoadingTree(t *testing.T) {
	bctx := context.Background()
	be := &cancelOnTree{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "b", "f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(src, "g"), []byte("y"), 0o644)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var warned []string
	run := func(ctx context.Context) (*restore.Stats, error) {
		// A fresh handle each time: nothing cached, the same reads.
		r2, err := repo.Open(bctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		be.loads.Store(0)
		return restore.Run(ctx, r2, res.Snapshot, src, restore.Options{Target: t.TempDir(), Workers: 1, SkipOwner: true,
			Warn: func(p string, err error) { mu.Lock(); warned = append(warned, p+": "+err.Error()); mu.Unlock() }})
	}
	if _, err := run(bctx); err != nil {
		t.Fatal(err)
	}
	// The last tree read is that of a folder inside the restored one.
	be.at.Store(be.loads.Load())
	ctx, cancel := context.WithCancel(bctx)
	defer cancel()
	be.cancel.Store(&cancel)
	st, err := run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("restore: %v, want canceled (tree loads: %d)", err, be.loads.Load())
	}
	if len(warned) != 0 {
		t.Errorf("interrupted restore warned: %q (err %v, st %v)", warned, err, st)
	}
	if st != nil && st.Errors != 0 {
		t.Errorf("interrupted restore counted %d errors", st.Errors)
	}
}
