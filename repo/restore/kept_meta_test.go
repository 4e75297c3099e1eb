package restore_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A file that --overwrite if-changed keeps because its size and mtime are
// the snapshot's still gets the snapshot's mode, owner and extended
// attributes, as restic's if-changed does: a restore over an older one
// (or a retry after a failed one) must not leave a setuid bit, a
// capability or an owner the snapshot does not give the file.
func TestIfChangedKeptFileGetsSnapshotMetadata(t *testing.T) {
	f := newSmallTree(t)
	dst := t.TempDir()
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	a, h2 := filepath.Join(dst, "a.txt"), filepath.Join(dst, "d", "h2")
	must(t, unix.Chmod(a, 0o4755))
	must(t, unix.Chmod(h2, 0o600)) // the second name of the h1 group
	xattrs := true
	if err := unix.Lsetxattr(a, "user.stale", []byte("x"), 0); err != nil {
		// Under CI, make test runs on a filesystem with user xattrs.
		if os.Getenv("CI") == "true" {
			t.Fatalf("user xattrs: %v", err)
		}
		xattrs = false
	}
	owner := os.Geteuid() == 0
	if owner {
		must(t, os.Lchown(a, 4242, 4343))
		must(t, unix.Chmod(a, 0o4755)) // chown cleared the setuid bit
	}

	res := f.restore(t, "", restore.Options{Target: dst, Overwrite: restore.IfChanged})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	if res.st.Skipped == 0 {
		t.Fatalf("stats %+v: nothing kept, the test does not test the policy", *res.st)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{a, 0o644}, {h2, 0o644}, {filepath.Join(dst, "h1"), 0o644}} {
		fi, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky); got != c.mode {
			t.Errorf("%s: mode %v, want the snapshot's %v", c.path, got, c.mode)
		}
		if owner {
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 0 || st.Gid != 0 {
				t.Errorf("%s: owner %d:%d, want the snapshot's 0:0", c.path, st.Uid, st.Gid)
			}
		}
	}
	if xattrs {
		if _, err := unix.Lgetxattr(a, "user.stale", nil); !errors.Is(err, unix.ENODATA) {
			t.Errorf("%s keeps user.stale, which the snapshot does not give it (%v)", a, err)
		}
	}
}

// A file of the snapshot's size and mtime that shares its inode with more
// names than the snapshot gives it is not taken for the snapshot's copy:
// keeping it would keep the other names' content, and setting its
// metadata would set theirs. It is replaced, which breaks the link.
func TestIfChangedReplacesFileLinkedElsewhere(t *testing.T) {
	f := newSmallTree(t)
	dst := t.TempDir()
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	// a.txt and b.txt are 5 bytes with the same mtime: a link of a.txt
	// at b.txt has b.txt's size and mtime, and a.txt's content.
	a, b := filepath.Join(dst, "a.txt"), filepath.Join(dst, "b.txt")
	must(t, os.Remove(b))
	must(t, os.Link(a, b))

	res := f.restore(t, "", restore.Options{Target: dst, Overwrite: restore.IfChanged})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	for path, want := range map[string]string{a: "alpha", b: "bravo"} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s holds %q, want the snapshot's %q", path, got, want)
		}
	}
	fa, errA := os.Lstat(a)
	fb, errB := os.Lstat(b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if os.SameFile(fa, fb) {
		t.Errorf("%s and %s are still one inode; the snapshot holds two files", a, b)
	}
	// The snapshot's own group (h1, d/h2) is kept as it is.
	h1, h2 := filepath.Join(dst, "h1"), filepath.Join(dst, "d", "h2")
	f1, err1 := os.Lstat(h1)
	f2, err2 := os.Lstat(h2)
	if err1 != nil || err2 != nil || !os.SameFile(f1, f2) {
		t.Errorf("%s and %s are not one inode any more (%v %v)", h1, h2, err1, err2)
	}
}

// An existing inode with several names is remembered whichever of its
// names the walk meets first: here h1, which is to become a link of the
// snapshot's group (d/h2) and so is replaced at once by the walk. Its
// other name, keep.log, of the snapshot's size and mtime but another
// content, is then down to one link; it is still not taken for the
// snapshot's copy.
func TestIfChangedRemembersInodeOfReplacedLinkName(t *testing.T) {
	f := newSmallTree(t)
	dst := t.TempDir()
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	keep, h1 := filepath.Join(dst, "keep.log"), filepath.Join(dst, "h1")
	fi, err := os.Lstat(keep)
	if err != nil {
		t.Fatal(err)
	}
	other := "not the log of the snaps" // as long as keep.log's content
	if len(other) != int(fi.Size()) {
		t.Fatalf("%d bytes, want %d", len(other), fi.Size())
	}
	must(t, os.WriteFile(keep, []byte(other), 0o644))
	must(t, os.Chtimes(keep, fi.ModTime(), fi.ModTime()))
	must(t, os.Remove(h1))
	must(t, os.Link(keep, h1))

	res := f.restore(t, "", restore.Options{Target: dst, Overwrite: restore.IfChanged})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	if got, _ := os.ReadFile(keep); string(got) != "a log the snapshot holds" {
		t.Errorf("%s holds %q, want the snapshot's content", keep, got)
	}
	if got, _ := os.ReadFile(h1); string(got) != "one inode, two names" {
		t.Errorf("%s holds %q, want the snapshot's content", h1, got)
	}
}

// A file planted in the target as a hardlink of a file outside it (an
// /etc/shadow of the restoring root) is never taken for the snapshot's
// copy, even when its size and mtime are the snapshot's and its link count
// fits the snapshot's group: setting the snapshot's mode, owner and times
// on it would set them on the outside file. It is replaced, as restic
// replaces an existing file with several links; the outside file is left
// as it was.
func TestIfChangedLeavesFileOutsideTargetAlone(t *testing.T) {
	f := newSmallTree(t)
	dst := filepath.Join(t.TempDir(), "target")
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil || len(res.warned) > 0 {
		t.Fatal(res.err, res.warned)
	}
	// The group h1, d/h2 (two links in the snapshot): d/h2 is its name the
	// walk meets first. Plant there a link to an outside file of the same
	// size and mtime, and take the group's other name away.
	outside := filepath.Join(t.TempDir(), "shadow")
	must(t, os.WriteFile(outside, []byte("secret: 20 bytes...."), 0o600))
	ts := []syscall.Timespec{syscall.NsecToTimespec(treeTime.UnixNano()), syscall.NsecToTimespec(treeTime.UnixNano())}
	must(t, lutimes(outside, ts))
	owner := os.Geteuid() == 0
	if owner {
		must(t, os.Lchown(outside, 4242, 4343))
	}
	h1, h2 := filepath.Join(dst, "h1"), filepath.Join(dst, "d", "h2")
	must(t, os.Remove(h1))
	must(t, os.Remove(h2))
	must(t, os.Link(outside, h2))

	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.IfNewer} {
		res := f.restore(t, "", restore.Options{Target: dst, Overwrite: ow})
		if res.err != nil || len(res.warned) > 0 {
			t.Fatal(res.err, res.warned)
		}
		fi, err := os.Lstat(outside)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("overwrite %v: the outside file's mode became %v", ow, got)
		}
		if st := fi.Sys().(*syscall.Stat_t); owner && (st.Uid != 4242 || st.Gid != 4343) {
			t.Errorf("overwrite %v: the outside file's owner became %d:%d", ow, st.Uid, st.Gid)
		}
		if b, _ := os.ReadFile(outside); string(b) != "secret: 20 bytes...." {
			t.Errorf("overwrite %v: the outside file holds %q", ow, b)
		}
	}
	for _, p := range []string{h1, h2} {
		if b, err := os.ReadFile(p); err != nil || string(b) != "one inode, two names" {
			t.Errorf("%s: %q %v, want the snapshot's content", p, b, err)
		}
	}
}
