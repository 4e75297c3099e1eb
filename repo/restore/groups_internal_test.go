package restore

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/repo/tree"
)

// A name of a hardlink group is counted only when it is reached below the
// target through no symlink. A folder of the target that is a symlink to a
// folder outside it (planted before the restore, which the walk replaces
// only once it gets there; or any folder when /proc is missing and paths
// are not confined) must not make a file with a name outside the target
// look like the group as the restore left it: its metadata would be set
// on the outside file.
func TestGroupInPlaceNoSymlinkOnTheWay(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(target, "d1"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(target, "d1", "f")
	if err := os.Link(filepath.Join(outside, "f"), dst); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(target, "d2")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dst)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	n := &tree.Node{Name: "f", Kind: tree.KindFile, Links: 2, Dev: 7, Inode: 9, Size: uint64(fi.Size()), MTime: fi.ModTime().UnixNano()}
	rs := &restorer{opt: Options{Target: target}}
	rs.groups = groupNames{listed: true, ok: true,
		paths: map[[2]uint64][]string{{7, 9}: {dst, filepath.Join(target, "d2", "f")}}}
	if rs.groupInPlace(dst, fi, st, n) {
		t.Errorf("a file with a name outside the target, reached through the symlink %s, taken for the group in place", filepath.Join(target, "d2"))
	}
	// The group's own names, both in the target: taken.
	if err := os.Remove(filepath.Join(target, "d2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(target, "d2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(outside, "f"), filepath.Join(target, "d2", "f")); err != nil {
		t.Fatal(err)
	}
	rs = &restorer{opt: Options{Target: target}}
	rs.groups = groupNames{listed: true, ok: true,
		paths: map[[2]uint64][]string{{7, 9}: {dst, filepath.Join(target, "d2", "f")}}}
	if !rs.groupInPlace(dst, fi, st, n) {
		t.Errorf("the group's two names in the target: not taken for the group in place")
	}
}
