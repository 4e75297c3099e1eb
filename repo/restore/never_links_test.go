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

// With --overwrite never, a file of the snapshot's size and mtime that
// another user put where a hardlink group's first name goes (theirs, mode
// 0666) is kept, as never keeps everything, but the group's other names
// are not made links of it: they would be files that user can write.
func TestNeverDoesNotLinkToPlantedFile(t *testing.T) {
	ctx := context.Background()
	r, res, src, dst, planted := plantedFirstName(t)
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, Overwrite: restore.Never}); err != nil {
		t.Fatal(err)
	}
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(planted, &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(dst, "b", "a2"), &sb); err != nil {
		t.Fatal(err)
	}
	if sa.Ino == sb.Ino {
		t.Fatalf("b/a2 was made a link of the file uid %d planted (mode %o)", sa.Uid, sa.Mode&0o7777)
	}
	if sb.Uid != 0 || sb.Mode&0o777 != 0o600 {
		t.Errorf("b/a2: uid %d mode %o, want the snapshot's 0 and 600", sb.Uid, sb.Mode&0o777)
	}
}

// With if-changed, a file another user planted with the snapshot's size
// and mtime, and holds open for writing, is not taken for the snapshot's
// copy: it was given root's owner and mode, and the group's other names
// were linked to it, while that user went on writing through the handle.
func TestIfChangedDoesNotTakePlantedFile(t *testing.T) {
	ctx := context.Background()
	r, res, src, dst, planted := plantedFirstName(t)
	held, err := os.OpenFile(planted, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	held.WriteAt([]byte("THEIRS"), 0)
	for _, p := range []string{"a", "b/a2"} {
		if b, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(b) != "root's data" {
			t.Errorf("%s: %q, %v: written through the planted file's handle", p, b, err)
		}
	}
}

// plantedFirstName restores a snapshot of src, holding root's 0600 file a
// and its hardlink b/a2, into dst, then removes both names and puts in a's
// place what another user (nobody) could: their own 0666 file with a's
// size, content and mtime, at planted.
func plantedFirstName(t *testing.T) (r *repo.Repository, res *ingest.Result, src, dst, planted string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to give a file to another user")
		}
		t.Skip("needs root")
	}
	ctx := context.Background()
	r = repo.TestRepository(t)
	src = t.TempDir()
	os.MkdirAll(filepath.Join(src, "b"), 0o700)
	if err := os.WriteFile(filepath.Join(src, "a"), []byte("root's data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "b", "a2")); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst = t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "a"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dst, "a"))
	os.Remove(filepath.Join(dst, "b", "a2"))
	planted = filepath.Join(dst, "a")
	if err := os.WriteFile(planted, []byte("root's data"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Chmod(planted, 0o666)
	os.Chown(planted, 65534, 65534)
	os.Chtimes(planted, fi.ModTime(), fi.ModTime())
	return r, res, src, dst, planted
}
