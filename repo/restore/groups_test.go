package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore run again over its own result (or resumed after an
// interruption) keeps a hardlink group whose names are all in the target
// as it left them, instead of writing the data again (a farm of
// hardlinked backups took four times as long as the first restore), and
// gives it the snapshot's metadata back. A file that has a name the
// group does not give it (outside the target, or another name in it) is
// still replaced, and that other name keeps the file as it was.
func TestRerunKeepsHardlinkGroup(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	for _, d := range []string{"x", "y", "z"} {
		os.MkdirAll(filepath.Join(src, d), 0o755)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "x", "f"), []byte("group of three"), 0o640))
	must(os.Chmod(filepath.Join(src, "x", "f"), 0o640)) // not less the umask
	must(os.Link(filepath.Join(src, "x", "f"), filepath.Join(src, "y", "f")))
	must(os.Link(filepath.Join(src, "x", "f"), filepath.Join(src, "z", "f")))
	must(os.WriteFile(filepath.Join(src, "x", "g"), []byte("group of two"), 0o644))
	must(os.Link(filepath.Join(src, "x", "g"), filepath.Join(src, "y", "g")))
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	must(err)

	dst := t.TempDir()
	at := func(p string) string { return filepath.Join(dst, src, p) }
	run := func() map[string]restore.Action {
		var mu sync.Mutex
		got := map[string]restore.Action{}
		_, err := restore.Run(ctx, r, res.Snapshot, "", restore.Options{Target: dst, Item: func(p string, a restore.Action, _ uint64) {
			mu.Lock()
			got[p] = a
			mu.Unlock()
		}})
		must(err)
		return got
	}
	ino := func(p string) uint64 {
		t.Helper()
		var st syscall.Stat_t
		must(syscall.Lstat(at(p), &st))
		return st.Ino
	}
	run()
	f, g := ino("x/f"), ino("x/g")

	// Resumed: a name of the group of three not there yet, and the
	// file's mode changed since.
	must(os.Remove(at("z/f")))
	must(os.Chmod(at("x/f"), 0o600))
	// Another name of the group of two, in the target but not the
	// snapshot's: that file is not the group's as the restore left it.
	must(os.Link(at("x/g"), at("z/other")))

	got := run()
	for _, p := range []string{"x/f", "y/f"} {
		if got[at(p)] != restore.Unchanged {
			t.Errorf("%s: %s, want unchanged", p, got[at(p)])
		}
	}
	for _, p := range []string{"x/f", "y/f", "z/f"} {
		if i := ino(p); i != f {
			t.Errorf("%s: inode %d, want the group's kept %d", p, i, f)
		}
	}
	if fi, err := os.Stat(at("x/f")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("kept group: mode %v (%v), want the snapshot's 0640", fi.Mode(), err)
	}
	if got[at("x/g")] != restore.Updated || ino("x/g") == g || ino("y/g") != ino("x/g") {
		t.Errorf("group with a name the snapshot does not give it: %s, inodes %d %d (was %d); want it written again, both names linked",
			got[at("x/g")], ino("x/g"), ino("y/g"), g)
	}
	if ino("z/other") != g {
		t.Errorf("the other name lost its file")
	}
}

// A file in the target with a name outside it (a link planted to a file
// elsewhere) is never taken for the group's copy, even when the group's
// other names in the target are links of it too: setting the snapshot's
// metadata on it would change the outside file.
func TestRerunGroupWithOutsideNameReplaced(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	os.MkdirAll(filepath.Join(src, "x"), 0o755)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "x", "f"), []byte("linked"), 0o644))
	must(os.Chmod(filepath.Join(src, "x", "f"), 0o644)) // not less the umask
	must(os.Link(filepath.Join(src, "x", "f"), filepath.Join(src, "f")))
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	must(err)
	dst := filepath.Join(base, "target")
	_, err = restore.Run(ctx, r, res.Snapshot, "", restore.Options{Target: dst})
	must(err)
	outside := filepath.Join(base, "outside")
	must(os.Link(filepath.Join(dst, src, "f"), outside))
	must(os.Chmod(outside, 0o600))

	_, err = restore.Run(ctx, r, res.Snapshot, "", restore.Options{Target: dst})
	must(err)
	fi, err := os.Stat(outside)
	must(err)
	if fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Errorf("outside file: mode %v, %d links; want 0600 and its own name only", fi.Mode(), fi.Sys().(*syscall.Stat_t).Nlink)
	}
	a, err := os.Stat(filepath.Join(dst, src, "f"))
	must(err)
	b, err := os.Stat(filepath.Join(dst, src, "x", "f"))
	must(err)
	if !os.SameFile(a, b) || os.SameFile(a, fi) || a.Mode().Perm() != 0o644 {
		t.Errorf("group in the target: not linked together apart from the outside file with the snapshot's mode")
	}
}
