package check_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// afterIndexList runs hook once, right after the first listing of the
// index segments returns: another process commits a snapshot then.
type afterIndexList struct {
	backends.Backend
	once sync.Once
	hook func()
}

func (a *afterIndexList) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	err := a.Backend.List(ctx, prefix, fn)
	if prefix == "index/" {
		a.once.Do(a.hook)
	}
	return err
}

// Check runs under a shared lock, beside ingests: a snapshot an ingest
// commits while check runs must not be reported as damaged (its index
// segment came after check read the index), nor send the user to repair
// a sound snapshot.
func TestSnapshotCommittedDuringCheck(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	other := f.Open()
	hooked, commits, forgotten := false, 0, 0
	armed := false // not while the repository is opened
	be := &afterIndexList{Backend: f.Backend, hook: func() {
		if !armed {
			return
		}
		hooked = true
		commits++
		if err := os.WriteFile(filepath.Join(f.Source, "docs", "late.txt"), []byte("written while check ran\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.Run(ctx, other, ingest.Options{Paths: []string{f.Source}, Host: repotest.Host}); err != nil {
			t.Fatal(err)
		}
		// and a forget removes a snapshot check may have listed.
		if forgotten == 0 {
			if err := other.RemoveSnapshot(ctx, f.Snapshots[0].ID); err != nil {
				t.Fatal(err)
			}
			forgotten++
		}
	}}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	armed = true
	for _, readData := range []bool{false, true} {
		hooked = false
		be.once = sync.Once{}
		res, err := check.Run(ctx, r, check.Options{ReadData: readData})
		if err != nil {
			t.Fatal(err)
		}
		if !hooked {
			t.Fatal("no snapshot was committed while check ran")
		}
		if !res.OK() {
			t.Errorf("read data %v: a snapshot committed while check ran is reported as damaged:\n%s", readData, report(res))
		}
	}
	// Once it has finished, a check sees every snapshot, and they are sound.
	if res := run(t, f, check.Options{ReadData: true}); !res.OK() || res.Snapshots != len(f.Snapshots)+commits-forgotten {
		t.Errorf("after: %d snapshots, want %d; problems:\n%s", res.Snapshots, len(f.Snapshots)+commits-forgotten, report(res))
	}
}
