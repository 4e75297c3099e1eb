package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A restore run again over its own result leaves the symlinks, fifos,
// sockets and devices it made in place and reports them unchanged (they
// were replaced and reported updated), while one that differs from the
// snapshot's (another target, another device number, another kind) is
// still replaced, and one kept gets the snapshot's metadata back.
func TestRerunKeepsSameSpecialFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for device nodes")
		}
		t.Skip("needs root for device nodes")
	}
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
	node := func(name string, k tree.Kind) *tree.Node {
		return &tree.Node{Name: name, Kind: k, Mode: 0o640, MTime: mt, ATime: mt, Links: 1}
	}
	link := node("link", tree.KindSymlink)
	link.LinkTarget = "some/where"
	moved := node("moved", tree.KindSymlink)
	moved.LinkTarget = "there"
	planted := node("planted", tree.KindSymlink)
	planted.LinkTarget = "some/where"
	dev := node("dev", tree.KindCharDev)
	dev.DevMajor, dev.DevMinor = 1, 3
	otherDev := node("otherdev", tree.KindCharDev)
	otherDev.DevMajor, otherDev.DevMinor = 1, 5
	nodes := []*tree.Node{link, moved, planted, node("fifo", tree.KindFIFO), node("sock", tree.KindSocket), dev, otherDev, node("kind", tree.KindFIFO)}
	tree.Sort(nodes)
	tid, err := s.SaveTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: time.Now(), Tree: tid, Paths: []string{"/data"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	run := func() map[string]restore.Action {
		var mu sync.Mutex
		got := map[string]restore.Action{}
		_, err := restore.Run(ctx, r, sn, "", restore.Options{Target: dst, Item: func(p string, a restore.Action, _ uint64) {
			mu.Lock()
			got[filepath.Base(p)] = a
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	run()
	dir := dst
	ino := map[string]uint64{}
	for _, n := range nodes {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, n.Name), &st); err != nil {
			t.Fatal(err)
		}
		ino[n.Name] = st.Ino
	}
	// What changed since: another target, another device number,
	// another kind; and the kept symlink's owner and time.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(dir, "moved")))
	must(os.Symlink("elsewhere", filepath.Join(dir, "moved")))
	must(os.Remove(filepath.Join(dir, "otherdev")))
	must(unix.Mknod(filepath.Join(dir, "otherdev"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 7))))
	must(os.Remove(filepath.Join(dir, "kind")))
	must(unix.Mknod(filepath.Join(dir, "kind"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	must(os.Lchown(filepath.Join(dir, "link"), 1234, 1234))
	later := unix.NsecToTimespec(time.Now().UnixNano())
	must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, "link"), []unix.Timespec{later, later}, unix.AT_SYMLINK_NOFOLLOW))
	// Older than the snapshot: if-changed replaces what differs (a
	// newer one it would keep, as with files).
	past := unix.NsecToTimespec(mt - int64(time.Hour))
	// Another user's symlink, to a target of the same length, with the
	// snapshot's times (anyone may set their own symlink's): not taken
	// for the snapshot's by its times, but read and replaced.
	must(os.Remove(filepath.Join(dir, "planted")))
	must(os.Symlink("some/thing", filepath.Join(dir, "planted")))
	must(os.Lchown(filepath.Join(dir, "planted"), 1234, 1234))
	snapTime := unix.NsecToTimespec(mt)
	must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, "planted"), []unix.Timespec{snapTime, snapTime}, unix.AT_SYMLINK_NOFOLLOW))
	for _, name := range []string{"moved", "otherdev", "kind"} {
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, name), []unix.Timespec{past, past}, unix.AT_SYMLINK_NOFOLLOW))
	}

	got := run()
	for name, want := range map[string]restore.Action{
		"link": restore.Unchanged, "fifo": restore.Unchanged, "sock": restore.Unchanged, "dev": restore.Unchanged,
		"moved": restore.Updated, "planted": restore.Updated, "otherdev": restore.Updated, "kind": restore.Updated,
	} {
		if got[name] != want {
			t.Errorf("%s: %s, want %s", name, got[name], want)
		}
	}
	for _, name := range []string{"link", "fifo", "sock", "dev"} {
		var st unix.Stat_t
		must(unix.Lstat(filepath.Join(dir, name), &st))
		if st.Ino != ino[name] {
			t.Errorf("%s: replaced (inode %d, was %d)", name, st.Ino, ino[name])
		}
	}
	fi, err := os.Lstat(filepath.Join(dir, "link"))
	must(err)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || fi.ModTime().UnixNano() != mt {
		t.Errorf("kept symlink: owner %d, mtime %v; want the snapshot's", st.Uid, fi.ModTime())
	}
	if target, _ := os.Readlink(filepath.Join(dir, "moved")); target != "there" {
		t.Errorf("moved: points to %q, want the snapshot's %q", target, "there")
	}
	if target, _ := os.Readlink(filepath.Join(dir, "planted")); target != "some/where" {
		t.Errorf("planted: points to %q, want the snapshot's %q", target, "some/where")
	}
	var st unix.Stat_t
	must(unix.Lstat(filepath.Join(dir, "otherdev"), &st))
	if st.Rdev != unix.Mkdev(1, 5) {
		t.Errorf("otherdev: device %d:%d, want 1:5", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	must(unix.Lstat(filepath.Join(dir, "kind"), &st))
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("kind: mode %o, want a fifo", st.Mode)
	}
}

// An entry that holds no data (a symlink, a fifo) where the snapshot has
// another kind is not a newer copy of the snapshot's entry: if-changed and
// if-newer replace it whatever its mtime. A symlink planted where the
// snapshot has a file (etc/passwd pointing out of the target) was kept as
// "newer", and the restored system read what it pointed to. A newer
// regular file where the snapshot has a symlink still stays: its data
// would be lost.
func TestNewerOtherKindReplaced(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(src, 0o755))
	must(os.WriteFile(filepath.Join(src, "passwd"), []byte("root:x:0:0\n"), 0o644))
	must(os.WriteFile(filepath.Join(src, "conf"), []byte("conf\n"), 0o644))
	must(os.Symlink("passwd", filepath.Join(src, "link")))
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	must(err)
	outside := filepath.Join(base, "outside")
	must(os.WriteFile(outside, []byte("not the snapshot's\n"), 0o600))
	for _, policy := range []restore.Overwrite{restore.IfChanged, restore.IfNewer} {
		dst := t.TempDir()
		at := func(name string) string { return filepath.Join(dst, src, name) }
		_, err := restore.Run(ctx, r, res.Snapshot, "", restore.Options{Target: dst})
		must(err)
		must(os.Remove(at("passwd")))
		must(os.Symlink(outside, at("passwd")))
		must(os.Remove(at("conf")))
		must(unix.Mkfifo(at("conf"), 0o644))
		must(os.Remove(at("link")))
		must(os.WriteFile(at("link"), []byte("the user's own data\n"), 0o644))
		later := unix.NsecToTimespec(time.Now().Add(time.Hour).UnixNano())
		for _, name := range []string{"passwd", "conf", "link"} {
			must(unix.UtimesNanoAt(unix.AT_FDCWD, at(name), []unix.Timespec{later, later}, unix.AT_SYMLINK_NOFOLLOW))
		}
		_, err = restore.Run(ctx, r, res.Snapshot, "", restore.Options{Target: dst, Overwrite: policy})
		must(err)
		if b, err := os.ReadFile(at("passwd")); err != nil || string(b) != "root:x:0:0\n" {
			t.Errorf("%v: a newer symlink where the snapshot has a file: %q, %v; want the snapshot's file", policy, b, err)
		}
		if fi, err := os.Lstat(at("passwd")); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%v: passwd is not a regular file: %v", policy, err)
		}
		if fi, err := os.Lstat(at("conf")); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%v: a newer fifo where the snapshot has a file: %v (%v); want the snapshot's file", policy, fi.Mode(), err)
		} else if b, _ := os.ReadFile(at("conf")); string(b) != "conf\n" {
			t.Errorf("%v: conf holds %q, want the snapshot's", policy, b)
		}
		if b, _ := os.ReadFile(at("link")); string(b) != "the user's own data\n" {
			t.Errorf("%v: a newer regular file where the snapshot has a symlink was replaced: %q", policy, b)
		}
		if b, _ := os.ReadFile(outside); string(b) != "not the snapshot's\n" {
			t.Fatalf("%v: the file outside the target changed: %q", policy, b)
		}
	}
}
