package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// TestTargetGivenAsSymlink: --target /mnt/new where /mnt/new is a symlink
// to the new disk's folder. The restore goes into that folder, which gets
// the snapshot root's mode and times; the symlink, outside the target, is
// left as it is. The root's metadata used to be applied to the symlink
// itself: its mtime changed, the folder kept its own, and the chmod of a
// symlink failed, so that a complete restore exited 1.
func TestTargetGivenAsSymlink(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("f\n"), 0o644))
	must(t, os.Chmod(src, 0o751))
	rootTime := time.Date(2003, 4, 5, 6, 7, 8, 9, time.UTC)
	must(t, os.Chtimes(src, rootTime, rootTime))
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, SetPath: "/", Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	must(t, os.Mkdir(disk, 0o700))
	link := filepath.Join(dir, "new")
	must(t, os.Symlink(disk, link))
	linkTime := unix.NsecToTimeval(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	must(t, unix.Lutimes(link, []unix.Timeval{linkTime, linkTime}))
	var before unix.Stat_t
	must(t, unix.Lstat(link, &before))

	for i := range 2 {
		var warned []string
		o := restore.Options{Target: link, Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }}
		if _, err := restore.Run(ctx, r, res.Snapshot, "/", o); err != nil || len(warned) > 0 {
			t.Errorf("restore %d: %v, warned %q", i, err, warned)
		}
		if b, err := os.ReadFile(filepath.Join(disk, "f")); err != nil || string(b) != "f\n" {
			t.Errorf("restore %d: f: %q, %v", i, b, err)
		}
		var after unix.Stat_t
		must(t, unix.Lstat(link, &after))
		if after.Mtim != before.Mtim || after.Mode != before.Mode || after.Uid != before.Uid {
			t.Errorf("restore %d: the symlink given as target changed: mtime %v mode %o uid %d, was %v %o %d",
				i, after.Mtim, after.Mode, after.Uid, before.Mtim, before.Mode, before.Uid)
		}
		fi, err := os.Stat(disk)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(rootTime) || fi.Mode().Perm() != 0o751 {
			t.Errorf("restore %d: the folder the target leads to has mtime %v mode %o, want the snapshot root's %v %o",
				i, fi.ModTime(), fi.Mode().Perm(), rootTime, 0o751)
		}
	}
}
