package testtree

import (
	"errors"
	"fmt"
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
//
// Below root every entry is reached from its open directory (fstatat,
// readlinkat, openat), never by its full path, so a tree may be deeper
// than PATH_MAX; its extended attributes, which have no *at calls on
// older kernels, are read through "/proc/self/fd/DIRFD/NAME".
func scan(tb testing.TB, root string) map[string]*entry {
	tb.Helper()
	out := map[string]*entry{}
	e := &entry{xattrs: readXattrs(tb, root, root)}
	if err := unix.Lstat(root, &e.st); err != nil {
		tb.Fatalf("testtree: lstat %q: %v", root, err)
	}
	out["."] = e
	if e.st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return out
	}
	var walk func(dir *os.File, rel string)
	walk = func(dir *os.File, rel string) {
		names, err := dir.Readdirnames(-1)
		if err != nil {
			tb.Fatalf("testtree: readdir %q: %v", filepath.Join(root, rel), err)
		}
		slices.Sort(names)
		dfd := int(dir.Fd())
		for _, name := range names {
			crel := filepath.Join(rel, name)
			p := filepath.Join(root, crel) // for messages only
			e := &entry{xattrs: readXattrs(tb, fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name), p)}
			if err := unix.Fstatat(dfd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				tb.Fatalf("testtree: lstat %q: %v", p, err)
			}
			out[crel] = e
			switch e.st.Mode & unix.S_IFMT {
			case unix.S_IFLNK:
				buf := make([]byte, unix.PathMax)
				n, err := unix.Readlinkat(dfd, name, buf)
				if err != nil {
					tb.Fatalf("testtree: readlink %q: %v", p, err)
				}
				e.target = string(buf[:n])
			case unix.S_IFDIR:
				sub := openNoatimeAt(tb, dfd, name, p, unix.O_DIRECTORY)
				walk(sub, crel)
				sub.Close()
			}
		}
	}
	dir := openNoatime(tb, root, unix.O_DIRECTORY)
	defer dir.Close()
	walk(dir, ".")
	return out
}

func openNoatime(tb testing.TB, p string, flags int) *os.File {
	return openNoatimeAt(tb, unix.AT_FDCWD, p, p, flags)
}

// openNoatimeAt opens name in the directory dirfd (p is its path, for
// messages) for reading, without following a symlink.
func openNoatimeAt(tb testing.TB, dirfd int, name, p string, flags int) *os.File {
	flags |= unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM { // not the owner and not root
		fd, err = unix.Openat(dirfd, name, flags, 0)
	}
	if err != nil {
		tb.Fatalf("testtree: open %q: %v", p, err)
	}
	return os.NewFile(uintptr(fd), p)
}

// openIn opens the entry rel of the tree at root for reading, one
// directory at a time, so that rel may make a path longer than PATH_MAX.
func openIn(tb testing.TB, root, rel string) *os.File {
	dir := openNoatime(tb, root, unix.O_DIRECTORY)
	parts := strings.Split(filepath.Clean(rel), "/")
	for _, name := range parts[:len(parts)-1] {
		sub := openNoatimeAt(tb, int(dir.Fd()), name, filepath.Join(root, rel), unix.O_DIRECTORY)
		dir.Close()
		dir = sub
	}
	defer dir.Close()
	return openNoatimeAt(tb, int(dir.Fd()), parts[len(parts)-1], filepath.Join(root, rel), 0)
}

// readXattrs reads the extended attributes of the entry sys names (p is
// its path, for messages).
func readXattrs(tb testing.TB, sys, p string) map[string][]byte {
	size, err := unix.Llistxattr(sys, nil)
	if err != nil {
		tb.Fatalf("testtree: llistxattr %q: %v", p, err)
	}
	list := make([]byte, size)
	n, err := unix.Llistxattr(sys, list)
	if err != nil {
		tb.Fatalf("testtree: llistxattr %q: %v", p, err)
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(string(list[:n]), "\x00") {
		if name == "" {
			continue
		}
		size, err := unix.Lgetxattr(sys, name, nil)
		if err != nil {
			tb.Fatalf("testtree: lgetxattr %q %s: %v", p, name, err)
		}
		v := make([]byte, size)
		n, err := unix.Lgetxattr(sys, name, v)
		if err != nil {
			tb.Fatalf("testtree: lgetxattr %q %s: %v", p, name, err)
		}
		out[name] = v[:n]
	}
	return out
}

// firstDiff returns the offset of the first byte where the files rel of
// the trees src and dst differ, or -1 if they are equal. Their sizes are
// known to be equal.
func firstDiff(tb testing.TB, src, dst, rel string) int64 {
	fa, fb := openIn(tb, src, rel), openIn(tb, dst, rel)
	a, b := fa.Name(), fb.Name()
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
