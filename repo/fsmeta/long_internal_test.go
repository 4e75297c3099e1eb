package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// deepChain makes under root a chain of folders with names of n bytes
// until the chain is longer than depth bytes, creating each from the one
// above (mkdirat), and returns the chain's path below root.
func deepChain(t *testing.T, root string, n, depth int) string {
	t.Helper()
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rel string
	for i := 0; len(rel) < depth; i++ {
		name := strings.Repeat(string(rune('a'+i%26)), n)
		if err := unix.Mkdirat(dir, name, 0o755); err != nil {
			t.Fatal(err)
		}
		sub, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		unix.Close(dir)
		if err != nil {
			t.Fatal(err)
		}
		dir = sub
		rel = filepath.Join(rel, name)
	}
	unix.Close(dir)
	return rel
}

// A path under PATH_MAX is given to the system call as it is: no
// descriptor, no allocation.
func TestShortenShortPath(t *testing.T) {
	path := "/" + strings.Repeat("x/", (unix.PathMax-2)/2)
	if len(path) >= unix.PathMax {
		t.Fatal(len(path))
	}
	allocs := testing.AllocsPerRun(100, func() {
		p, err := shorten(path)
		if err != nil || p.name != path || p.dir != 0 {
			t.Fatalf("shorten: %+v %v", p, err)
		}
		p.close()
	})
	if allocs != 0 {
		t.Errorf("shorten of a short path: %v allocations", allocs)
	}
}

// Every function that takes a path reaches entries deeper than PATH_MAX,
// at every length around the limit and across several pieces, and names
// the path given in its errors.
func TestLongPaths(t *testing.T) {
	root := t.TempDir()
	// Names of 251 bytes: paths near PATH_MAX end at many offsets.
	chain := filepath.Join(root, deepChain(t, root, 251, 3*unix.PathMax))
	for i, dir := 0, chain; len(dir) > len(root); i, dir = i+1, filepath.Dir(dir) {
		// With names of 1 to 255 bytes, paths end on either side of
		// PATH_MAX (and 2 and 3 times it) and on it.
		for _, name := range []string{"f", strings.Repeat("n", 1+i*37%255)} {
			p := filepath.Join(dir, name)
			writeAt(t, p, []byte(p[len(p)-10:]), 0o640)
			n, err := Stat(p)
			if err != nil {
				t.Fatalf("Stat of a %d-byte path: %v", len(p), err)
			}
			if n.Kind != tree.KindFile || n.Size != 10 || n.Mode != 0o640 || n.Name != name {
				t.Fatalf("Stat of a %d-byte path: %+v", len(p), n)
			}
			f, err := OpenRead(p)
			if err != nil {
				t.Fatalf("OpenRead of a %d-byte path: %v", len(p), err)
			}
			b := make([]byte, 20)
			k, _ := f.Read(b)
			f.Close()
			if string(b[:k]) != p[len(p)-10:] || f.Name() != p {
				t.Fatalf("OpenRead of a %d-byte path read %q, named %d bytes", len(p), b[:k], len(f.Name()))
			}
		}
		names, err := ReadDirNames(dir)
		if err != nil || len(names) < 2 {
			t.Fatalf("ReadDirNames of a %d-byte path: %q %v", len(dir), names, err)
		}
	}

	// Paths of exactly PATH_MAX bytes and either side of it, and a piece
	// that would end right at the limit.
	for _, l := range []int{unix.PathMax - 2, unix.PathMax - 1, unix.PathMax, unix.PathMax + 1, 2*unix.PathMax - 1, 2 * unix.PathMax} {
		dir := chain
		for len(dir)+2 > l {
			dir = filepath.Dir(dir)
		}
		p := filepath.Join(dir, strings.Repeat("e", l-len(dir)-1))
		if len(p) != l || len(filepath.Base(p)) > 255 {
			t.Fatalf("cannot make a %d-byte path: %d, %d", l, len(p), len(filepath.Base(p)))
		}
		writeAt(t, p, []byte("exact"), 0o600)
		if n, err := Stat(p); err != nil || n.Size != 5 {
			t.Errorf("Stat of a path of %d bytes: %+v %v", l, n, err)
		}
	}

	p := filepath.Join(chain, "f")
	if len(p) < 3*unix.PathMax {
		t.Fatal(len(p))
	}
	// A symlink at the end is not followed: not by Stat, Xattrs, OpenRead.
	if err := Create(filepath.Join(chain, "link"), &tree.Node{Kind: tree.KindSymlink, LinkTarget: "f"}); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(chain, "link")
	if n, err := Stat(link); err != nil || n.Kind != tree.KindSymlink || n.LinkTarget != "f" {
		t.Fatalf("Stat of a deep symlink: %+v %v", n, err)
	}
	if _, err := OpenRead(link); !errors.Is(err, unix.ELOOP) {
		t.Errorf("OpenRead of a deep symlink: %v, want ELOOP", err)
	}
	// A symlink on the way is followed, as in a short path.
	symlinkAt(t, "..", filepath.Join(chain, "up"))
	via := filepath.Join(chain, "up", filepath.Base(chain), "f")
	if n, err := Stat(via); err != nil || n.Kind != tree.KindFile {
		t.Errorf("Stat through a deep symlink to a folder: %+v %v", n, err)
	}
	// So are "." and "..", and doubled slashes.
	odd := filepath.Dir(chain) + "//./" + filepath.Base(chain) + "/../" + filepath.Base(chain) + "/f"
	if n, err := Stat(odd); err != nil || n.Kind != tree.KindFile {
		t.Errorf("Stat of a path with ., .. and //: %+v %v", n, err)
	}

	// Apply, Create, Rename, Link, Remove and the rest.
	fifo := filepath.Join(chain, "fifo")
	if err := Create(fifo, &tree.Node{Kind: tree.KindFIFO}); err != nil {
		t.Fatal(err)
	}
	want := &tree.Node{Kind: tree.KindFIFO, Mode: 0o604, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		ATime: 1_100_000_000_123_456_789, MTime: 1_200_000_000_987_654_321,
		Xattrs: []tree.Xattr{{Name: "user.deep", Value: []byte("down")}}}
	err := Apply(fifo, want, ApplyOptions{SkipOwner: true})
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) {
		want.Xattrs = nil // user. xattrs on a fifo: not on every file system
		err = Apply(fifo, want, ApplyOptions{SkipOwner: true, PruneXattrs: true})
	}
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	got, err := Stat(fifo)
	if err != nil || got.Mode != want.Mode || got.ATime != want.ATime || got.MTime != want.MTime || len(got.Xattrs) != len(want.Xattrs) {
		t.Fatalf("Stat after Apply: %+v %v", got, err)
	}
	short := filepath.Join(root, "short")
	if err := Link(p, short); err != nil {
		t.Fatalf("Link long to short: %v", err)
	}
	if err := Rename(short, filepath.Join(chain, "g")); err != nil {
		t.Fatalf("Rename short to long: %v", err)
	}
	if a, err := Lstat(filepath.Join(chain, "g")); err != nil || a.Size() != 10 {
		t.Fatalf("Lstat: %v %v", a, err)
	}
	if err := MkdirAll(filepath.Join(chain, "x", strings.Repeat("y", 200), "z"), 0o755); err != nil {
		t.Fatalf("MkdirAll: %v", err)
	}
	if err := Truncate(filepath.Join(chain, "g"), 3); err != nil {
		t.Fatalf("Truncate: %v", err)
	}
	fd, err := Open(filepath.Join(chain, "h"), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	unix.Close(fd)
	if err := RemoveAll(filepath.Join(chain, "x")); err != nil {
		t.Fatalf("RemoveAll: %v", err)
	}
	if err := Remove(filepath.Join(chain, "h")); err != nil {
		t.Fatalf("Remove: %v", err)
	}

	// Errors name the path given, and keep their cause.
	missing := filepath.Join(chain, "no", "such")
	for name, err := range map[string]error{
		"Stat":         func() error { _, err := Stat(missing); return err }(),
		"Lstat":        func() error { _, err := Lstat(missing); return err }(),
		"Xattrs":       func() error { _, err := Xattrs(missing); return err }(),
		"OpenRead":     func() error { _, err := OpenRead(missing); return err }(),
		"ReadDirNames": func() error { _, err := ReadDirNames(missing); return err }(),
		"Mkdir":        Mkdir(missing, 0o755),
		"Remove":       Remove(missing),
		"Rename":       Rename(missing, p),
		"Link":         Link(p, missing),
		"Apply":        Apply(missing, want, ApplyOptions{SkipOwner: true}),
	} {
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "/proc/self/fd") {
			t.Errorf("%s of a missing long path: %.200v", name, err)
		}
	}
	if err := Rename(p, filepath.Join(chain, "g", "not-a-dir")); err == nil || strings.Contains(err.Error(), "/proc/self/fd") {
		t.Errorf("Rename into a file: %.200v", err)
	}
}

// parentOf opens the folder holding the absolute path, one name at a
// time from the root (independently of shorten), and returns it with the
// last name.
func parentOf(t *testing.T, path string) (int, string) {
	t.Helper()
	dir, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, name := range parts[:len(parts)-1] {
		sub, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		unix.Close(dir)
		if err != nil {
			t.Fatal(err)
		}
		dir = sub
	}
	return dir, parts[len(parts)-1]
}

func writeAt(t *testing.T, path string, content []byte, mode uint32) {
	t.Helper()
	dir, name := parentOf(t, path)
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, content); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		t.Fatal(err)
	}
}

func symlinkAt(t *testing.T, target, path string) {
	t.Helper()
	dir, name := parentOf(t, path)
	defer unix.Close(dir)
	if err := unix.Symlinkat(target, dir, name); err != nil {
		t.Fatal(err)
	}
}

// Without /proc (a rescue chroot) nothing can be confined: Confine says
// so instead of confining to paths every call would then fail on.
func TestConfineWithoutProc(t *testing.T) {
	saved := procFD
	procFD = func() bool { return false }
	defer func() { procFD = saved }()
	dir := t.TempDir()
	release, err := Confine(dir)
	if !errors.Is(err, ErrNoProc) {
		t.Fatalf("Confine without /proc: %v, want ErrNoProc", err)
	}
	release()
	if err := Mkdir(dir+"/a", 0o755); err != nil {
		t.Fatalf("a path below the unconfined target: %v", err)
	}
}
