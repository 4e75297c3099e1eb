package restore_test

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// atDataRead calls check on every read of a data pack.
type atDataRead struct {
	backends.Backend
	check atomic.Pointer[func()]
}

func (a *atDataRead) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.DataBlob.String()+"/") {
		if f := a.check.Load(); f != nil {
			(*f)()
		}
	}
	return a.Backend.Load(ctx, name, off, length)
}

// A large new file is not at its name until it is complete: a restore
// killed while it writes one (a 6 GiB file takes a minute) left it there
// cut short and newer than the snapshot's copy, and running the restore
// again kept it ("existing file is newer than the snapshot's copy; kept")
// with no error.
func TestLargeNewFileNotAtItsNameUntilComplete(t *testing.T) {
	bctx := context.Background()
	be := &atDataRead{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	data := make([]byte, 24<<20)
	rand.New(rand.NewSource(1)).Read(data)
	if err := os.WriteFile(filepath.Join(src, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := repo.Open(bctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	dst := t.TempDir()
	final := filepath.Join(dst, "big")
	var early atomic.Int64
	check := func() {
		if _, err := os.Lstat(final); err == nil {
			early.Add(1)
		}
	}
	be.check.Store(&check)
	if _, err := restore.Run(bctx, r2, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true}); err != nil {
		t.Fatal(err)
	}
	be.check.Store(nil)
	if n := early.Load(); n > 0 {
		t.Errorf("the large file was at its final name, incomplete, during %d data reads", n)
	}
	got, err := os.ReadFile(final)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restored file: %v, equal %v", err, bytes.Equal(got, data))
	}
	left, _ := filepath.Glob(filepath.Join(dst, "."+"big"+restore.PartialSuffix+"*"))
	if len(left) > 0 {
		t.Errorf("temporaries left: %v", left)
	}
}
