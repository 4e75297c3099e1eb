package fsmeta

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// OpenBeneath opens folders below its starting folder, for reading as
// well as O_PATH, and refuses a symlink anywhere on the way and ".."; the
// same with openat2 and one name at a time (a kernel without openat2, or
// a seccomp filter that refuses it).
func TestOpenBeneath(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), nil, 0o644)
	os.Symlink("/", filepath.Join(dir, "a", "l"))
	top, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(top)
	for _, walk := range []bool{false, true} {
		noOpenat2 = walk
		for _, flags := range []int{unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC} {
			for rel, want := range map[string]error{"a/b": nil, "": nil, ".": nil, "a/l": unix.ELOOP, "a/l/etc": unix.ELOOP, "../x": unix.EXDEV, "a/b/f": unix.ENOTDIR} {
				fd, err := OpenBeneath(top, rel, flags)
				if err != want {
					t.Errorf("one name at a time %v, flags %#x: %q: %v, want %v", walk, flags, rel, err, want)
				}
				if err == nil {
					var st unix.Stat_t
					if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
						t.Errorf("%q: not a folder", rel)
					}
					if flags&unix.O_PATH == 0 {
						if _, err := unix.Getdents(fd, make([]byte, 4096)); err != nil {
							t.Errorf("%q opened for reading cannot be listed: %v", rel, err)
						}
					}
					unix.Close(fd)
				}
			}
		}
	}
	noOpenat2 = false
}
