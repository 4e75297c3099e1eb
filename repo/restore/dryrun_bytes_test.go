package restore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo/restore"
)

// restore -n says how much the restore would write: as much as the
// restore then writes, a sparse file's holes not counted in either.
func TestDryRunCountsTheBytesARestoreWrites(t *testing.T) {
	f := newPartialFixture(t)
	dst := filepath.Join(t.TempDir(), "t")
	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, DryRun: true}
	dry, err := restore.Run(context.Background(), f.r, f.sn, f.src, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.DryRun = false
	done, err := restore.Run(context.Background(), f.r, f.sn, f.src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Bytes != done.Bytes {
		t.Fatalf("restore -n counted %d bytes, the restore wrote %d", dry.Bytes, done.Bytes)
	}
}
