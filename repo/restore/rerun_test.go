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
	dev := node("dev", tree.KindCharDev)
	dev.DevMajor, dev.DevMinor = 1, 3
	otherDev := node("otherdev", tree.KindCharDev)
	otherDev.DevMajor, otherDev.DevMinor = 1, 5
	nodes := []*tree.Node{link, moved, node("fifo", tree.KindFIFO), node("sock", tree.KindSocket), dev, otherDev, node("kind", tree.KindFIFO)}
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
	for _, name := range []string{"moved", "otherdev", "kind"} {
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, name), []unix.Timespec{past, past}, unix.AT_SYMLINK_NOFOLLOW))
	}

	got := run()
	for name, want := range map[string]restore.Action{
		"link": restore.Unchanged, "fifo": restore.Unchanged, "sock": restore.Unchanged, "dev": restore.Unchanged,
		"moved": restore.Updated, "otherdev": restore.Updated, "kind": restore.Updated,
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
