package fsmeta_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

func create(t *testing.T, p string) error {
	t.Helper()
	fd, err := fsmeta.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// A confined restore keeps the folders it found open. A folder it removes
// and makes again at the same name is the new one: files go into it, not
// into the removed one (where creating fails).
func TestConfinedFolderRemadeIsFoundAgain(t *testing.T) {
	target := t.TempDir()
	release, err := fsmeta.Confine(target)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	a := filepath.Join(target, "a")
	if err := fsmeta.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, filepath.Join(a, "x")); err != nil { // a is now held
		t.Fatal(err)
	}
	if err := fsmeta.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	if err := fsmeta.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, filepath.Join(a, "y")); err != nil {
		t.Fatalf("a file in the folder made again: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(a, "y")); err != nil {
		t.Fatal(err)
	}
	// Renamed away and made again: the same.
	if err := fsmeta.Rename(a, filepath.Join(target, "b")); err != nil {
		t.Fatal(err)
	}
	if err := fsmeta.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, filepath.Join(a, "z")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(a, "z")); err != nil {
		t.Fatalf("the file went elsewhere: %v", err)
	}
}

// A held folder swapped for a symlink by someone else is still the folder
// found below the target: nothing goes through the symlink.
func TestConfinedHeldFolderSwappedForSymlink(t *testing.T) {
	target, outside := t.TempDir(), t.TempDir()
	release, err := fsmeta.Confine(target)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	a := filepath.Join(target, "a")
	if err := os.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, filepath.Join(a, "x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a, filepath.Join(target, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, a); err != nil {
		t.Fatal(err)
	}
	create(t, filepath.Join(a, "y"))
	if _, err := os.Lstat(filepath.Join(outside, "y")); err == nil {
		t.Fatal("a file was made outside the target through the symlink")
	}
	// Not held (a fresh name): refused outright.
	if err := os.Symlink(outside, filepath.Join(target, "c")); err != nil {
		t.Fatal(err)
	}
	if err := create(t, filepath.Join(target, "c", "y")); err == nil {
		t.Fatal("a path through a symlink below the target was followed")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("outside the target: %v", entries)
	}
}

// A path below the target whose last name is ".." ("target/..",
// "target/a/.." with a moved away) never reaches above the target: it is
// refused as openat2's RESOLVE_BENEATH refuses ".." on the way.
func TestConfinedDotDotNotFollowed(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	release, err := fsmeta.Confine(target)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Mkdir(filepath.Join(target, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{target + "/..", target + "/a/../..", target + "/a/.."} {
		if fi, err := fsmeta.Lstat(p); err == nil && os.SameFile(fi, mustLstat(t, parent)) {
			t.Errorf("Lstat %s: the folder above the target", p)
		}
		if err := fsmeta.Chmod(p, 0o777); err == nil {
			t.Errorf("Chmod %s: no error", p)
		}
	}
	if fi := mustLstat(t, parent); fi.Mode().Perm() != 0o700 {
		t.Errorf("the folder above the target has mode %v", fi.Mode().Perm())
	}
}

func mustLstat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// A target given as a relative path is confined under both spellings. A
// folder renamed away under one spelling is forgotten under the other
// too: a file made at its name by the other spelling goes into the new
// folder, not the one renamed away.
func TestConfinedRelativeTargetForgetsBothSpellings(t *testing.T) {
	parent := t.TempDir()
	t.Chdir(parent)
	if err := os.Mkdir("target", 0o755); err != nil {
		t.Fatal(err)
	}
	release, err := fsmeta.Confine("target")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	abs := filepath.Join(parent, "target")
	if err := fsmeta.Mkdir("target/a", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, abs+"/a/x"); err != nil { // a held, spelt absolute
		t.Fatal(err)
	}
	if err := fsmeta.Rename("target/a", "target/b"); err != nil {
		t.Fatal(err)
	}
	if err := fsmeta.Mkdir("target/a", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, abs+"/a/y"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(abs, "a", "y")); err != nil {
		t.Fatalf("the file went into the folder renamed away: %v", err)
	}
}

// A target given as "." (or "./", or a relative path) is confined as any
// other: a restore names what is below it "a/y" (filepath.Join(".",
// "a/y")), and with "." nothing was confined, so a folder below it
// swapped for a symlink was followed out of the target.
func TestConfinedDotTarget(t *testing.T) {
	for _, given := range []string{".", "./", "t"} {
		t.Run(given, func(t *testing.T) {
			base, outside := t.TempDir(), t.TempDir()
			target := filepath.Join(base, "t")
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if given == "t" {
				t.Chdir(base)
			} else {
				t.Chdir(target)
			}
			release, err := fsmeta.Confine(given)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if err := os.Symlink(outside, filepath.Join(target, "a")); err != nil {
				t.Fatal(err)
			}
			if err := create(t, filepath.Join(given, "a", "y")); err == nil {
				t.Error("a path through a symlink below the target was followed")
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Fatalf("outside the target: %v", entries)
			}
			// What is below it is still reached.
			if err := fsmeta.Mkdir(filepath.Join(given, "b"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := create(t, filepath.Join(given, "b", "z")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(filepath.Join(target, "b", "z")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
