package restore_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore run again over its own result (a cron job keeping a standby
// copy current) sets nothing on what is already as the snapshot has it:
// no file or folder in it has its ctime moved, also with --delete, and
// every entry keeps the snapshot's atime and mtime. Each set of an owner,
// mode, time or attribute would move it, and cost a system call or more
// per file (a re-run over a tree of a million small files took twice the
// first restore's time). What does differ is still put right: see the
// second half.
func TestRerunLeavesIdenticalEntriesAlone(t *testing.T) {
	f := newSmallTree(t)
	dst := t.TempDir()
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	was := map[string]unix.Stat_t{}
	// Listed without moving the folders' atimes, which a re-run would
	// rightly set back to the snapshot's.
	var walk func(dir string, fn func(p string, st *unix.Stat_t))
	walk = func(dir string, fn func(p string, st *unix.Stat_t)) {
		t.Helper()
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOATIME|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), dir)
		names, err := f.Readdirnames(-1)
		f.Close()
		must(t, err)
		for _, name := range names {
			p := filepath.Join(dir, name)
			var st unix.Stat_t
			must(t, unix.Lstat(p, &st))
			fn(p, &st)
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				walk(p, fn)
			}
		}
	}
	walk(dst, func(p string, st *unix.Stat_t) { was[p] = *st })
	if len(was) < 5 {
		t.Fatalf("only %d entries restored", len(was))
	}
	// Well past the kernel's clock tick, which ctimes are taken from.
	time.Sleep(50 * time.Millisecond)

	// Once as it is, once with --delete, whose pass reads every folder.
	for _, del := range []bool{false, true} {
		res := f.restore(t, "", restore.Options{Target: dst, Delete: del})
		if res.err != nil || len(res.warned) > 0 {
			t.Fatal(res.err, res.warned)
		}
		if res.st.Skipped == 0 {
			t.Fatalf("stats %+v: nothing kept", *res.st)
		}
		walk(dst, func(p string, st *unix.Stat_t) {
			w, ok := was[p]
			if !ok {
				t.Errorf("%s: not there after the first restore", p)
				return
			}
			if st.Atim != w.Atim || st.Mtim != w.Mtim {
				t.Errorf("re-run (delete %v): %s: atime %v, mtime %v; want the snapshot's %v, %v", del, p, st.Atim, st.Mtim, w.Atim, w.Mtim)
			}
			// A symlink too: with the snapshot's times its target is
			// not read, which moved its atime (relatime), set back
			// with its ctime moving.
			if st.Ctim != w.Ctim {
				t.Errorf("re-run (delete %v): %s: ctime %v, was %v after the first restore: the re-run changed an entry already as the snapshot has it", del, p, st.Ctim, w.Ctim)
			}
		})
	}

	// What differs from the snapshot is still put right: an atime, a
	// mode, an attribute the snapshot does not have, a symlink's target.
	a, b, c := filepath.Join(dst, "a.txt"), filepath.Join(dst, "b.txt"), filepath.Join(dst, "d", "c.txt")
	var before unix.Stat_t
	must(t, unix.Lstat(a, &before))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, a, []unix.Timespec{unix.NsecToTimespec(time.Now().UnixNano()), before.Mtim}, unix.AT_SYMLINK_NOFOLLOW))
	must(t, unix.Chmod(b, 0o600))
	xattrs := unix.Lsetxattr(c, "user.stale", []byte("x"), 0) == nil
	if !xattrs && os.Getenv("CI") == "true" {
		t.Fatal("user xattrs: the test's filesystem keeps none")
	}
	// A symlink made anew, to a target of the same length, older than
	// the snapshot's (else kept as newer): read, and put right.
	ln := filepath.Join(dst, "d", "ln")
	var old unix.Stat_t
	must(t, unix.Lstat(ln, &old))
	must(t, os.Remove(ln))
	must(t, os.Symlink("../b.txt", ln))
	older := unix.NsecToTimespec(old.Mtim.Nano() - int64(time.Second))
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, ln, []unix.Timespec{old.Atim, older}, unix.AT_SYMLINK_NOFOLLOW))
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	if got, err := os.Readlink(ln); err != nil || got != "../a.txt" {
		t.Errorf("%s -> %q (%v), want the snapshot's ../a.txt", ln, got, err)
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
