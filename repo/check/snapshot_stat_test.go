package check_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// statCounter counts the Stats of snapshot objects.
type statCounter struct {
	backends.Backend
	n atomic.Int32
}

func (b *statCounter) Stat(ctx context.Context, name string) (backends.Info, error) {
	if strings.HasPrefix(name, "snapshots/") {
		b.n.Add(1)
	}
	return b.Backend.Stat(ctx, name)
}

// check and repair snapshots list the snapshots, which gives their sizes:
// reading each must not ask the storage its size again (one more request
// per snapshot on S3, to check it against the envelope size limit).
func TestSnapshotsReadWithListedSizes(t *testing.T) {
	f := repotest.New(t)
	ctx := context.Background()
	be := &statCounter{Backend: f.Backend}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := check.Run(ctx, r, check.Options{})
	if err != nil || res.Snapshots != 2 || len(res.Problems) != 0 {
		t.Fatalf("check: %v, %+v", err, res)
	}
	if _, err := repair.Snapshots(ctx, r, repair.SnapshotsOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := be.n.Load(); n != 0 {
		t.Errorf("snapshot objects asked their size %d times", n)
	}
}
