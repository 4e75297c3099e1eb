package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore resumed with --overwrite never, after one that stopped once
// the first name of a hardlink group was in place, keeps that file and
// links the group's other names to it, as if-changed does: the group is
// not split into a copy and the rest.
func TestNeverResumeKeepsHardlinkGroup(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "b"), 0o755)
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "a"), strings.Repeat("linked ", 100))
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "b", "a2")); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	opt := restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0, Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) }}
	if _, err := restore.Run(ctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	// What a restore stopped before the group's second name leaves.
	if err := os.Remove(filepath.Join(dst, "b", "a2")); err != nil {
		t.Fatal(err)
	}
	opt.Overwrite = restore.Never
	if _, err := restore.Run(ctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dst, "a"), &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(dst, "b", "a2"), &sb); err != nil {
		t.Fatal(err)
	}
	if sa.Ino != sb.Ino || sa.Nlink != 2 {
		t.Fatalf("after the resumed restore: inodes %d and %d, nlink %d: the hardlink group was split", sa.Ino, sb.Ino, sa.Nlink)
	}
}
