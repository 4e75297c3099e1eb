package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// Xattrs returns every extended attribute of path itself (not of a
// symlink's target), in every namespace the caller may read, sorted by
// name. A filesystem without xattr support yields none; an attribute
// removed between listing and reading is left out. Empty values are
// returned as empty, non-nil slices.
func Xattrs(path string) ([]tree.Xattr, error) {
	p, err := shorten(path)
	if err != nil {
		return nil, fmt.Errorf("llistxattr %s: %w", path, err)
	}
	defer p.close()
	return readXattrs(path, p.name)
}

// readXattrs is Xattrs with sys, the name of path for the system calls.
func readXattrs(path, sys string) ([]tree.Xattr, error) {
	names, err := listXattrs(path, sys)
	if err != nil {
		return nil, err
	}
	var out []tree.Xattr
	for _, name := range names {
		v, err := getXattr(sys, name)
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
		}
		out = append(out, tree.Xattr{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b tree.Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// listXattrs returns the attribute names of path (sys for the system
// call), unsorted.
func listXattrs(path, sys string) ([]string, error) {
	return listXattrsWith(path, func(buf []byte) (int, error) { return unix.Llistxattr(sys, buf) })
}

// listXattrsWith is listXattrs for the file list lists the attribute
// names of (llistxattr on a name, flistxattr on a descriptor).
func listXattrsWith(path string, list func(buf []byte) (int, error)) ([]string, error) {
	// Most files have no attributes or a few short names: a buffer on
	// the stack costs the walk of a big tree no garbage.
	var small [512]byte
	buf := small[:]
	for {
		n, err := list(buf)
		switch {
		case errors.Is(err, unix.ENOTSUP):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			// The list grew since the last call: ask for its size.
			size, err := list(nil)
			if err != nil {
				return nil, fmt.Errorf("llistxattr %s: %w", path, err)
			}
			buf = make([]byte, max(size, 2*len(buf)))
			continue
		case err != nil:
			return nil, fmt.Errorf("llistxattr %s: %w", path, err)
		}
		var names []string
		for b := buf[:n]; len(b) > 0; {
			var name []byte
			name, b, _ = bytes.Cut(b, []byte{0})
			if len(name) > 0 {
				names = append(names, string(name))
			}
		}
		return names, nil
	}
}

// getXattr returns the value of one attribute of the file sys names,
// retrying if it grows between the size query and the read. Errors are
// returned unwrapped.
func getXattr(sys, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(sys, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Lgetxattr(sys, name, nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, max(size, 2*len(buf)))
			continue
		}
		if err != nil {
			return nil, err
		}
		return bytes.Clone(buf[:n:n]), nil
	}
}

// DropDefaultACL removes the default ACL of the directory at dir, if it
// has one. It looks first: removing asks for ownership even when there is
// nothing to remove.
func DropDefaultACL(dir string) error {
	const name = "system.posix_acl_default"
	p, err := shorten(dir)
	if err != nil {
		return fmt.Errorf("read default ACL: %w", err)
	}
	defer p.close()
	if _, err := unix.Lgetxattr(p.name, name, nil); err != nil {
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("read default ACL: %w", err)
	}
	err = unix.Lremovexattr(p.name, name)
	if err == nil || errors.Is(err, unix.ENODATA) {
		return nil
	}
	return fmt.Errorf("remove default ACL (what is restored into it inherits it): %w", err)
}
