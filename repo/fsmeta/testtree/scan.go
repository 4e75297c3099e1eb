package testtree

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// entry is what Compare reads of one path, with its own system calls so
// that it checks fsmeta rather than trusting it.
type entry struct {
	st     unix.Stat_t
	target string
	xattrs map[string][]byte
}

// scan reads every entry under root, keyed by path relative to root ("."
// for root). Directories and files are opened with O_NOATIME so scanning
// does not disturb the atimes it compares.
func scan(tb testing.TB, root string) map[string]*entry {
	tb.Helper()
	out := map[string]*entry{}
	var walk func(rel string)
	walk = func(rel string) {
		p := filepath.Join(root, rel)
		e := &entry{xattrs: readXattrs(tb, p)}
		if err := unix.Lstat(p, &e.st); err != nil {
			tb.Fatalf("testtree: lstat %q: %v", p, err)
		}
		out[rel] = e
		switch e.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlink(p, buf)
			if err != nil {
				tb.Fatalf("testtree: readlink %q: %v", p, err)
			}
			e.target = string(buf[:n])
		case unix.S_IFDIR:
			for _, name := range readDir(tb, p) {
				walk(filepath.Join(rel, name))
			}
		}
	}
	walk(".")
	return out
}

func readDir(tb testing.TB, p string) []string {
	f := openNoatime(tb, p, unix.O_DIRECTORY)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		tb.Fatalf("testtree: readdir %q: %v", p, err)
	}
	slices.Sort(names)
	return names
}

func openNoatime(tb testing.TB, p string, flags int) *os.File {
	flags |= unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(p, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM { // not the owner and not root
		fd, err = unix.Open(p, flags, 0)
	}
	if err != nil {
		tb.Fatalf("testtree: open %q: %v", p, err)
	}
	return os.NewFile(uintptr(fd), p)
}

func readXattrs(tb testing.TB, p string) map[string][]byte {
	size, err := unix.Llistxattr(p, nil)
	if err != nil {
		tb.Fatalf("testtree: llistxattr %q: %v", p, err)
	}
	list := make([]byte, size)
	n, err := unix.Llistxattr(p, list)
	if err != nil {
		tb.Fatalf("testtree: llistxattr %q: %v", p, err)
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(string(list[:n]), "\x00") {
		if name == "" {
			continue
		}
		size, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			tb.Fatalf("testtree: lgetxattr %q %s: %v", p, name, err)
		}
		v := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			tb.Fatalf("testtree: lgetxattr %q %s: %v", p, name, err)
		}
		out[name] = v[:n]
	}
	return out
}

// firstDiff returns the offset of the first byte where files a and b
// differ, or -1 if they are equal. Their sizes are known to be equal.
func firstDiff(tb testing.TB, a, b string) int64 {
	fa, fb := openNoatime(tb, a, 0), openNoatime(tb, b, 0)
	defer fa.Close()
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := int64(0); ; {
		na, erra := io.ReadFull(fa, ba)
		nb, errb := io.ReadFull(fb, bb)
		for i := range min(na, nb) {
			if ba[i] != bb[i] {
				return off + int64(i)
			}
		}
		if na != nb {
			return off + int64(min(na, nb))
		}
		off += int64(na)
		eofA := errors.Is(erra, io.EOF) || errors.Is(erra, io.ErrUnexpectedEOF)
		eofB := errors.Is(errb, io.EOF) || errors.Is(errb, io.ErrUnexpectedEOF)
		if erra != nil && !eofA {
			tb.Fatalf("testtree: read %q: %v", a, erra)
		}
		if errb != nil && !eofB {
			tb.Fatalf("testtree: read %q: %v", b, errb)
		}
		if eofA || eofB {
			return -1
		}
	}
}
