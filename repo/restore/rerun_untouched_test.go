package restore_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore run again over its own result (a cron job keeping a standby
// copy current) sets nothing on what is already as the snapshot has it:
// no entry but the folders (whose metadata is set after their contents)
// has its ctime moved. Each set of an owner, mode, time or attribute would
// move it, and cost a system call or more per file (a re-run over a tree of
// a million small files took twice the first restore's time). What does
// differ is still put right: see the second half.
func TestRerunLeavesIdenticalEntriesAlone(t *testing.T) {
	f := newSmallTree(t)
	dst := t.TempDir()
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	ctimes := map[string]unix.Timespec{}
	walk := func(fn func(p string, st *syscall.Stat_t)) {
		t.Helper()
		must(t, filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			fn(p, fi.Sys().(*syscall.Stat_t))
			return nil
		}))
	}
	walk(func(p string, st *syscall.Stat_t) { ctimes[p] = unix.Timespec(st.Ctim) })
	if len(ctimes) < 5 {
		t.Fatalf("only %d entries restored", len(ctimes))
	}
	// Well past the kernel's clock tick, which ctimes are taken from.
	time.Sleep(50 * time.Millisecond)

	res := f.restore(t, "", restore.Options{Target: dst})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	if res.st.Skipped == 0 {
		t.Fatalf("stats %+v: nothing kept", *res.st)
	}
	walk(func(p string, st *syscall.Stat_t) {
		if was, ok := ctimes[p]; !ok || unix.Timespec(st.Ctim) != was {
			t.Errorf("%s: ctime %v, was %v after the first restore: the re-run changed an entry already as the snapshot has it", p, st.Ctim, was)
		}
	})

	// What differs from the snapshot is still put right: an atime, a
	// mode, an attribute the snapshot does not have.
	a, b, c := filepath.Join(dst, "a.txt"), filepath.Join(dst, "b.txt"), filepath.Join(dst, "d", "c.txt")
	var before unix.Stat_t
	must(t, unix.Lstat(a, &before))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, a, []unix.Timespec{unix.NsecToTimespec(time.Now().UnixNano()), before.Mtim}, unix.AT_SYMLINK_NOFOLLOW))
	must(t, unix.Chmod(b, 0o600))
	xattrs := unix.Lsetxattr(c, "user.stale", []byte("x"), 0) == nil
	if !xattrs && os.Getenv("CI") == "true" {
		t.Fatal("user xattrs: the test's filesystem keeps none")
	}
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	var st unix.Stat_t
	must(t, unix.Lstat(a, &st))
	if st.Atim != before.Atim {
		t.Errorf("%s: atime %v, want the snapshot's %v", a, st.Atim, before.Atim)
	}
	must(t, unix.Lstat(b, &st))
	if st.Mode&0o7777 != 0o644 {
		t.Errorf("%s: mode %#o, want the snapshot's 0644", b, st.Mode&0o7777)
	}
	if _, err := unix.Lgetxattr(c, "user.stale", nil); xattrs && err == nil {
		t.Errorf("%s keeps user.stale, which the snapshot does not give it", c)
	}
}
