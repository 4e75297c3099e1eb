package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// After a killed restore, a dry run with --delete listed the temporaries
// it left (".NAME.cairn-partial-…") as deleted and counted them, while
// the real run then removed them without a word (before its delete pass)
// and counted fewer deleted: the dry run's report did not match what the
// restore did. Neither lists nor counts them now.
func TestDryRunDeleteMatchesRealRunOverKilledTemporaries(t *testing.T) {
	bctx := context.Background()
	r := repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	for _, p := range []string{"f", "sub/g"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte("content of "+p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "sub"), 0o755)
	put := func(p string, mode os.FileMode) {
		p = filepath.Join(dst, p)
		if err := os.WriteFile(p, []byte("half written"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	put(".f"+restore.PartialSuffix+"0123456789abcdef", 0o200)
	put("sub/.g"+restore.PartialSuffix+"fedcba9876543210", 0o200)
	put("extra", 0o644) // what the snapshot lacks: deleted by both

	run := func(dry bool) (*restore.Stats, []string) {
		var deleted []string
		opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Delete: true, DryRun: dry,
			Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) },
			Item: func(p string, a restore.Action, size uint64) {
				if a == restore.Deleted {
					deleted = append(deleted, p)
				}
			}}
		st, err := restore.Run(bctx, r, res.Snapshot, src, opt)
		if err != nil {
			t.Fatal(err)
		}
		return st, deleted
	}
	dry, dryList := run(true)
	st, realList := run(false)
	if strings.Join(dryList, "\n") != strings.Join(realList, "\n") || dry.Deleted != st.Deleted {
		t.Errorf("dry run: %d deleted %q; the restore then: %d deleted %q", dry.Deleted, dryList, st.Deleted, realList)
	}
	if st.Deleted != 1 {
		t.Errorf("%d deleted %q, want only extra", st.Deleted, realList)
	}
	if ents, _ := os.ReadDir(filepath.Join(dst, "sub")); len(ents) != 1 {
		t.Errorf("sub holds %v, want only g", ents)
	}
}
