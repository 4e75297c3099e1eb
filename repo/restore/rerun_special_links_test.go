package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore run again over its own result kept hardlink groups of regular
// files, but made every hardlink group of fifos or symlinks again: both
// names reported updated, counted as one other and one link restored
// (the TUI said the folder was restored, not kept), though nothing had
// changed. Such a group, all its names in the target, is kept as a
// regular file's is.
func TestRerunKeepsSpecialLinkGroups(t *testing.T) {
	bctx := context.Background()
	r := repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(src, "f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("some/target", filepath.Join(src, "s")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"f", "s"} {
		if err := os.Link(filepath.Join(src, n), filepath.Join(src, "sub", n+"2")); err != nil {
			t.Fatal(err)
		}
	}
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true,
		Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) }}
	if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	ino := func(p string) uint64 {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	before := map[string]uint64{}
	names := []string{"f", "sub/f2", "s", "sub/s2"}
	for _, p := range names {
		before[p] = ino(p)
	}
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.IfNewer, restore.Never} {
		for _, dry := range []bool{true, false} {
			items := map[string]restore.Action{}
			opt.Overwrite, opt.DryRun = ow, dry
			opt.Item = func(p string, a restore.Action, size uint64) {
				if rel, _ := filepath.Rel(dst, p); rel != "." && rel != "sub" {
					items[rel] = a
				}
			}
			st, err := restore.Run(bctx, r, res.Snapshot, src, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range names {
				if items[p] != restore.Unchanged {
					t.Errorf("overwrite %d, dry run %v: %s reported %v, want unchanged", ow, dry, p, items[p])
				}
			}
			if st.Others != 0 || st.Links != 0 || st.Skipped != 4 {
				t.Errorf("overwrite %d, dry run %v: %d others, %d links, %d kept; want 0, 0, 4 kept",
					ow, dry, st.Others, st.Links, st.Skipped)
			}
		}
	}
	for _, p := range names {
		if ino(p) != before[p] {
			t.Errorf("%s was made again", p)
		}
	}
	if ino("f") != ino("sub/f2") || ino("s") != ino("sub/s2") {
		t.Error("a group is no longer linked")
	}
}
