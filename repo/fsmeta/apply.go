package fsmeta

import (
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// SkipOwner leaves the owner alone: for restores by a user who cannot
	// chown, whose files then belong to that user. The group is still
	// set when the user may give it (one of their groups); when not,
	// the file keeps the group it was created with, silently. Without it a failed
	// lchown (EPERM when not root) is reported in Apply's error but the
	// other attributes are still set.
	SkipOwner bool
	// PruneXattrs removes the extended attributes the target has and n
	// does not. Set it when restoring over a path that existed before;
	// a freshly created target has none worth the extra llistxattr.
	PruneXattrs bool
	// Flags sets the inode flags of n (files and directories only),
	// last, since immutable and append-only forbid the other changes.
	// Flags the target has and n does not (inherited from its folder,
	// or there before) are cleared. Only root may set immutable and
	// append-only.
	Flags bool
}

// Apply sets n's metadata on the existing path, never following a symlink
// at path: owner, then extended attributes, then mode (not for symlinks),
// then atime and mtime to the nanosecond, then (with opt.Flags) the inode
// flags. The package doc explains that
// order. Call it after the content is written and, for a directory, after
// all of its entries exist.
//
// Apply does not stop at the first failure: every step is attempted, and
// the failures are returned joined (errors.Join), each an *Error naming
// the system call, path and attribute. The caller decides which ones are
// fatal; errors.Is(err, unix.EPERM) finds a permission failure.
func Apply(path string, n *tree.Node, opt ApplyOptions) error {
	var errs []error
	fail := func(op, attr string, err error) {
		errs = append(errs, &Error{Op: op, Path: path, Attr: attr, Err: err})
	}
	p, err := shorten(path)
	if err != nil {
		fail("open", "parent directory", err)
		return errors.Join(errs...)
	}
	defer p.close()
	sys := p.name
	if opt.Flags && opt.PruneXattrs {
		// A target that was there may be immutable or append-only,
		// which forbid every change below: cleared here, n's flags
		// are set at the end.
		if err := ClearBlockingFlags(path); err != nil {
			fail("setflags", "clear immutable/append-only", err)
		}
	}
	if !opt.SkipOwner {
		if err := unix.Lchown(sys, int(n.UID), int(n.GID)); err != nil {
			fail("lchown", fmt.Sprintf("owner %d:%d", n.UID, n.GID), err)
		}
	} else if err := unix.Lchown(sys, -1, int(n.GID)); err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
		// A user may still give a file any group they are a member of,
		// as cp -a and rsync -a do; not being one (EPERM) is what a
		// restore by a user cannot help, and is not reported.
		fail("lchown", fmt.Sprintf("group %d", n.GID), err)
	}
	if opt.PruneXattrs {
		if err := pruneXattrs(path, sys, n.Xattrs); err != nil {
			errs = append(errs, err)
		}
	}
	for _, x := range n.Xattrs {
		if err := unix.Lsetxattr(sys, x.Name, x.Value, 0); err != nil {
			fail("lsetxattr", x.Name, err)
		}
	}
	if n.Kind != tree.KindSymlink {
		if err := chmodNoFollow(sys, n.Mode&0o7777); err != nil {
			fail("chmod", fmt.Sprintf("mode %#o", n.Mode&0o7777), err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.ATime), unix.NsecToTimespec(n.MTime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, sys, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		fail("utimensat", "times", err)
	}
	if opt.Flags && (n.Kind == tree.KindFile || n.Kind == tree.KindDir) {
		// Also when n has none: a file made in a folder with nodump,
		// noatime or sync (ext4) inherits them. Setting flags changes
		// the ctime only, not the times above.
		if err := SetFlags(path, n.Flags); err != nil {
			fail("setflags", fmt.Sprintf("inode flags %s", FlagString(n.Flags)), err)
		}
	}
	return errors.Join(errs...)
}

// pruneXattrs removes the attributes of path (sys for the system calls)
// that are not in keep.
func pruneXattrs(path, sys string, keep []tree.Xattr) error {
	names, err := listXattrs(path, sys)
	if err != nil {
		return &Error{Op: "llistxattr", Path: path, Attr: "xattrs", Err: errors.Unwrap(err)}
	}
	return removeXattrs(path, names, keep, func(name string) error { return unix.Lremovexattr(sys, name) })
}

// removeXattrs removes with remove the attributes of names that keep
// lacks; path names the file in the errors.
func removeXattrs(path string, names []string, keep []tree.Xattr, remove func(name string) error) error {
	var errs []error
	for _, name := range names {
		if hasXattr(keep, name) {
			continue
		}
		err := remove(name)
		if err != nil && !errors.Is(err, unix.ENODATA) {
			errs = append(errs, &Error{Op: "lremovexattr", Path: path, Attr: name, Err: err})
		}
	}
	return errors.Join(errs...)
}

func hasXattr(xs []tree.Xattr, name string) bool {
	for _, x := range xs {
		if x.Name == name {
			return true
		}
	}
	return false
}

// chmodNoFollow changes the mode of path (a name from shorten) itself.
// fchmodat2 (Linux 6.6) refuses to follow a symlink, but says so with
// EOPNOTSUPP, as it does on older kernels for the flag itself; either
// way the entry is then opened (O_PATH|O_NOFOLLOW) and, unless it is a
// symlink, its mode changed through that descriptor, as glibc does: a
// check of path followed by a chmod by name would follow a symlink put
// there in between.
func chmodNoFollow(path string, mode uint32) error {
	err := unix.Fchmodat(unix.AT_FDCWD, path, mode, unix.AT_SYMLINK_NOFOLLOW)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	fd, err := openat(unix.AT_FDCWD, path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	if !procFD() {
		// No /proc (a rescue chroot on a kernel before 6.6): by name,
		// as before there was a better way.
		return unix.Chmod(path, mode)
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}

// ApplyFd is Apply for the regular file open at fd (any access mode but
// O_PATH), which path names in the errors: the same steps in the same
// order, with the same errors (Op named as Apply names them), each made
// through the descriptor, so that it reaches the file that is open
// whatever its name leads to meanwhile, and costs no path resolution.
func ApplyFd(fd int, path string, n *tree.Node, opt ApplyOptions) error {
	var errs []error
	fail := func(op, attr string, err error) {
		errs = append(errs, &Error{Op: op, Path: path, Attr: attr, Err: err})
	}
	if opt.Flags && opt.PruneXattrs {
		if err := ClearBlockingFlagsFd(fd); err != nil {
			fail("setflags", "clear immutable/append-only", err)
		}
	}
	if !opt.SkipOwner {
		if err := unix.Fchown(fd, int(n.UID), int(n.GID)); err != nil {
			fail("lchown", fmt.Sprintf("owner %d:%d", n.UID, n.GID), err)
		}
	} else if err := unix.Fchown(fd, -1, int(n.GID)); err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EINVAL) {
		fail("lchown", fmt.Sprintf("group %d", n.GID), err)
	}
	if opt.PruneXattrs {
		if err := pruneXattrsFd(fd, path, n.Xattrs); err != nil {
			errs = append(errs, err)
		}
	}
	for _, x := range n.Xattrs {
		if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
			fail("lsetxattr", x.Name, err)
		}
	}
	if err := unix.Fchmod(fd, n.Mode&0o7777); err != nil {
		fail("chmod", fmt.Sprintf("mode %#o", n.Mode&0o7777), err)
	}
	if err := futimens(fd, n.ATime, n.MTime); err != nil {
		fail("utimensat", "times", err)
	}
	if opt.Flags {
		if err := changeFlagsFd(fd, FlagsKept, n.Flags&FlagsKept); err != nil {
			fail("setflags", fmt.Sprintf("inode flags %s", FlagString(n.Flags)), err)
		}
	}
	return errors.Join(errs...)
}

// futimens sets the atime and mtime (ns) of the file open at fd, to the
// nanosecond: utimensat with no path, which unix.UtimesNanoAt cannot
// give (an empty path fails without AT_EMPTY_PATH on older kernels).
func futimens(fd int, atime, mtime int64) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// pruneXattrsFd is pruneXattrs for the file open at fd.
func pruneXattrsFd(fd int, path string, keep []tree.Xattr) error {
	names, err := listXattrsWith(path, func(buf []byte) (int, error) { return unix.Flistxattr(fd, buf) })
	if err != nil {
		return &Error{Op: "llistxattr", Path: path, Attr: "xattrs", Err: errors.Unwrap(err)}
	}
	return removeXattrs(path, names, keep, func(name string) error { return unix.Fremovexattr(fd, name) })
}
