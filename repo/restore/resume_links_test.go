package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore stopped after the first name of a hardlink group was written
// but before the others were linked to it, run again with --overwrite
// if-newer, wrote the missing name as a copy of its own and kept the
// written one beside it: the group was split, with no error, and every
// later run kept it so. A file of the snapshot's size and mtime is
// replaced by the link (no data written), as if-changed does.
func TestIfNewerResumeKeepsHardlinks(t *testing.T) {
	bctx := context.Background()
	r := repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "a"), 0o755)
	// "a/x" is met first in the walk, "b" second.
	if err := os.WriteFile(filepath.Join(src, "b"), []byte("linked content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "b"), filepath.Join(src, "a", "x")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "b"), old, old)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	for _, missing := range []string{"a/x", "b"} {
		dst := t.TempDir()
		opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Overwrite: restore.IfNewer}
		if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
			t.Fatal(err)
		}
		// What a restore stopped between the two names leaves.
		os.Remove(filepath.Join(dst, missing))
		if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
			t.Fatal(err)
		}
		a, err1 := os.Lstat(filepath.Join(dst, "a", "x"))
		b, err2 := os.Lstat(filepath.Join(dst, "b"))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !os.SameFile(a, b) || a.Sys().(*syscall.Stat_t).Nlink != 2 {
			t.Errorf("without %s: a/x and b are not one file with 2 links after the restore ran again", missing)
		}
	}
}
