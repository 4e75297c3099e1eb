package repair_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// TestRestoreDeleteKeepsWhatRepairLeftOut: a file the repository lost,
// which repair snapshots leaves out, may still exist at the source (its
// only copy now); restore --delete of the repaired snapshot in place must
// not delete it there as lacking from the snapshot.
func TestRestoreDeleteKeepsWhatRepairLeftOut(t *testing.T) {
	f := repotest.New(t)
	f.RemovePack(f.PackOf("media/big.bin"))
	repairIndex(t, f, false)
	rs := repairSnapshots(t, f, repair.SnapshotsOptions{})
	var sn = f.Latest()
	for _, rep := range rs.Reports {
		if rep.ID == sn.ID {
			sn = rep.Repaired
		}
	}
	if sn == nil || sn == f.Latest() {
		t.Fatal("the latest snapshot was not repaired")
	}
	big := filepath.Join(f.Source, "media/big.bin")
	if _, err := os.Lstat(big); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(ctx, f.Repo, sn, f.Path(""), restore.Options{Target: f.Source, Delete: true, Workers: 2,
		SkipOwner: os.Geteuid() != 0,
		Warn:      func(p string, err error) { t.Errorf("restore %s: %v", p, err) }}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(big); err != nil {
		t.Errorf("the file the repository lost was deleted at the source: %v", err)
	}
}
