package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Paths longer than PATH_MAX.
//
// The kernel refuses a path of PATH_MAX (4096) bytes or more in any one
// system call (ENAMETOOLONG), but a tree may be deeper than that: nothing
// stops a program from creating entries below a directory it is in, and
// a snapshot must keep them and restore must give them back. Such a path
// is taken apart: its parent directory is opened (O_PATH) by a chain of
// openat calls over pieces of the path, each shorter than PATH_MAX, and
// the system call is given "/proc/self/fd/N/NAME" instead, which names
// the same entry in a few dozen bytes. The kernel walks each piece the
// way it walks a whole path, so every component but the last is resolved
// as it would be (a symlink on the way is followed, as it is in one long
// path), and the last one, NAME, is left to the system call: lstat,
// llistxattr, lgetxattr, readlink, open with O_NOFOLLOW and the rest do
// not follow it through "/proc/self/fd/N/NAME" any more than through the
// full path.
//
// A path under PATH_MAX, nearly every one, is passed on as it is: one
// length comparison, no system call and no allocation more.

// sysPath is a path as given to a system call: the path itself, or the
// "/proc/self/fd/N/NAME" that stands for a long one while its parent
// directory is open.
type sysPath struct {
	name string
	dir  int // the parent directory's descriptor plus one; 0: none
	// held: the parent, kept open below a confined root (confine.go)
	held *heldDir
	root *root
}

// shorten returns the name to give a system call for path. Close the
// result when the call is done.
func shorten(path string) (sysPath, error) {
	if direct(path) {
		return sysPath{name: path}, nil
	}
	return shortenLong(path)
}

func (p sysPath) close() {
	if p.dir > 0 {
		unix.Close(p.dir - 1)
	}
	if p.held != nil {
		p.root.release(p.held)
	}
}

// procFD tells whether /proc/self/fd can stand for an open directory. Where
// it cannot (no /proc mounted), a long path fails as it always did.
var procFD = sync.OnceValue(func() bool {
	var st unix.Stat_t
	return unix.Stat("/proc/self/fd", &st) == nil
})

func shortenLong(path string) (sysPath, error) {
	if p, ok, err := shortenConfined(path); ok {
		return p, err
	}
	i := strings.LastIndexByte(path, '/')
	if i <= 0 || !procFD() {
		// One name of 4096 bytes or more, or no /proc: the kernel
		// says ENAMETOOLONG, as it should.
		return sysPath{name: path}, nil
	}
	dir, base := path[:i], path[i+1:]
	if base == "" {
		base = "." // "dir/": the directory itself
	}
	fd, err := openDir(dir)
	if err != nil {
		return sysPath{}, err
	}
	return sysPath{name: "/proc/self/fd/" + strconv.Itoa(fd) + "/" + base, dir: fd + 1}, nil
}

// openDir opens the directory dir with O_PATH, resolving it in pieces of
// fewer than PATH_MAX bytes, each cut at a slash and opened relative to
// the one before. Every component is resolved as in a path walk: a
// symlink is followed (dir is the parent of what the caller works on).
func openDir(dir string) (int, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd := unix.AT_FDCWD
	for rest := dir; ; {
		piece, next := rest, ""
		if len(rest) >= unix.PathMax {
			cut := strings.LastIndexByte(rest[:unix.PathMax-1], '/')
			if cut <= 0 {
				// A name longer than a piece: no file system holds one.
				if fd != unix.AT_FDCWD {
					unix.Close(fd)
				}
				return -1, unix.ENAMETOOLONG
			}
			// A piece after the first starts with a name, not a
			// slash: it is relative to the one before.
			piece, next = rest[:cut], strings.TrimLeft(rest[cut:], "/")
		}
		nfd, err := openat(fd, piece, flags)
		if fd != unix.AT_FDCWD {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = nfd
		if next == "" {
			return fd, nil
		}
		rest = next
	}
}

func openat(dirfd int, path string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// fix makes err, from a call on p.name, name orig instead.
func (p sysPath) fix(err error, orig string) error {
	if p.dir == 0 && p.held == nil || err == nil {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Path, p.name) {
		pe.Path = orig + pe.Path[len(p.name):]
	}
	return err
}

// The functions below are those of package os (and unix.Open), for paths
// of any length. A path under PATH_MAX goes straight to the os function;
// errors name the path given, never the "/proc/self/fd" stand-in.

// Lstat is os.Lstat.
func Lstat(path string) (os.FileInfo, error) {
	if direct(path) {
		return os.Lstat(path)
	}
	p, err := shortenLong(path)
	if err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	defer p.close()
	fi, err := os.Lstat(p.name)
	return fi, p.fix(err, path)
}

// Readlink is os.Readlink.
func Readlink(path string) (string, error) {
	if direct(path) {
		return os.Readlink(path)
	}
	p, err := shortenLong(path)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: path, Err: err}
	}
	defer p.close()
	s, err := os.Readlink(p.name)
	return s, p.fix(err, path)
}

// Open is unix.Open: it returns a raw descriptor and an unwrapped errno.
func Open(path string, flags int, perm uint32) (int, error) {
	if direct(path) {
		return unix.Open(path, flags, perm)
	}
	p, err := shortenLong(path)
	if err != nil {
		return -1, err
	}
	defer p.close()
	return unix.Open(p.name, flags, perm)
}

// OpenFile is os.OpenFile; the file's Name is path.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	if direct(path) {
		return os.OpenFile(path, flag, perm)
	}
	fd, err := Open(path, flag|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// onePath calls fn with the system call's name for path.
func onePath(op, path string, fn func(string) error) error {
	p, err := shortenLong(path)
	if err != nil {
		return &os.PathError{Op: op, Path: path, Err: err}
	}
	defer p.close()
	return p.fix(fn(p.name), path)
}

// Mkdir is os.Mkdir.
func Mkdir(path string, perm os.FileMode) error {
	if direct(path) {
		return os.Mkdir(path, perm)
	}
	return onePath("mkdir", path, func(p string) error { return os.Mkdir(p, perm) })
}

// MkdirAll is os.MkdirAll.
func MkdirAll(path string, perm os.FileMode) error {
	if direct(path) {
		return os.MkdirAll(path, perm)
	}
	var fi os.FileInfo
	err := onePath("stat", path, func(p string) (err error) { fi, err = os.Stat(p); return err })
	if err == nil {
		if fi.IsDir() {
			return nil
		}
		return &os.PathError{Op: "mkdir", Path: path, Err: unix.ENOTDIR}
	}
	if parent := filepath.Dir(strings.TrimRight(path, "/")); parent != path {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	err = Mkdir(path, perm)
	if err != nil {
		// Made meanwhile, or a symlink to a directory: as os.MkdirAll.
		if serr := onePath("stat", path, func(p string) (err error) { fi, err = os.Stat(p); return err }); serr == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}

// Remove is os.Remove.
func Remove(path string) error {
	if direct(path) {
		return os.Remove(path)
	}
	defer forgetConfined(path)
	return onePath("remove", path, os.Remove)
}

// RemoveAll is os.RemoveAll. (os.RemoveAll itself works below the
// directory it starts from with openat and unlinkat: a tree deeper than
// PATH_MAX under a short path is no trouble to it.)
func RemoveAll(path string) error {
	if direct(path) {
		return os.RemoveAll(path)
	}
	defer forgetConfined(path)
	return onePath("unlinkat", path, os.RemoveAll)
}

// Truncate is os.Truncate.
func Truncate(path string, size int64) error {
	if direct(path) {
		return os.Truncate(path, size)
	}
	return onePath("truncate", path, func(p string) error { return os.Truncate(p, size) })
}

// Rename is os.Rename.
func Rename(from, to string) error {
	if direct(from) && direct(to) {
		return os.Rename(from, to)
	}
	defer forgetConfined(from)
	defer forgetConfined(to)
	return twoPaths("rename", from, to, os.Rename)
}

// Chmod is chmod(2) of the entry at path itself, with mode's raw bits
// (0o4755, not os.FileMode's): a symlink there is not followed
// (EOPNOTSUPP), whatever it leads to.
func Chmod(path string, mode uint32) error {
	p, err := shorten(path)
	if err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	defer p.close()
	if err := chmodNoFollow(p.name, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// Link is os.Link.
func Link(from, to string) error {
	if direct(from) && direct(to) {
		return os.Link(from, to)
	}
	return twoPaths("link", from, to, os.Link)
}

func twoPaths(op, from, to string, fn func(string, string) error) error {
	a, err := shorten(from)
	if err != nil {
		return &os.LinkError{Op: op, Old: from, New: to, Err: err}
	}
	defer a.close()
	b, err := shorten(to)
	if err != nil {
		return &os.LinkError{Op: op, Old: from, New: to, Err: err}
	}
	defer b.close()
	err = fn(a.name, b.name)
	var le *os.LinkError
	if errors.As(err, &le) {
		le.Old, le.New = from, to
	}
	return err
}

// OpenUp gives the owner's read, write and search bits to the folder at
// path when the caller owns it and it lacks them (a folder restored
// before with the snapshot's 0555 or 000): a caller that is not root
// cannot restore into it otherwise. The caller sets the folder's own mode
// again once its contents are done, as for a folder it makes. Root, whom
// modes do not stop, changes nothing.
func OpenUp(path string) error {
	if os.Geteuid() == 0 {
		return nil
	}
	p, err := shorten(path)
	if err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	defer p.close()
	var st unix.Stat_t
	if err := unix.Lstat(p.name, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o700 == 0o700 {
		return nil
	}
	if err := chmodNoFollow(p.name, st.Mode&0o7777|0o700); err != nil {
		return &os.PathError{Op: "chmod u+rwx (to restore into it)", Path: path, Err: err}
	}
	return nil
}

// DirState is what a restore changes on an existing folder it restores
// into (its default ACL, dropped; its owner's rwx, opened up), kept to
// be given back to a folder the restore otherwise leaves as it is.
type DirState struct {
	mode uint32
	acl  []byte // the default ACL, nil if none
}

// SaveDirState returns the state of the folder at path for PutBack, or
// nil when there is none there.
func SaveDirState(path string) (*DirState, error) {
	p, err := shorten(path)
	if err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	defer p.close()
	var st unix.Stat_t
	if err := unix.Lstat(p.name, &st); err != nil {
		if err == unix.ENOENT {
			return nil, nil
		}
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, nil
	}
	s := &DirState{mode: st.Mode & 0o7777}
	acl, err := getXattr(p.name, "system.posix_acl_default")
	switch {
	case err == nil:
		s.acl = acl
	case errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP):
	default:
		return nil, fmt.Errorf("read default ACL: %w", err)
	}
	return s, nil
}

// PutBack gives the folder at path the default ACL and mode s holds
// again, if they changed.
func (s *DirState) PutBack(path string) error {
	p, err := shorten(path)
	if err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	defer p.close()
	var st unix.Stat_t
	if err := unix.Lstat(p.name, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	if s.acl != nil {
		if err := unix.Lsetxattr(p.name, "system.posix_acl_default", s.acl, 0); err != nil {
			return fmt.Errorf("put back default ACL: %w", err)
		}
	}
	if st.Mode&0o7777 != s.mode {
		if err := chmodNoFollow(p.name, s.mode); err != nil {
			return &os.PathError{Op: "chmod (put back its mode)", Path: path, Err: err}
		}
	}
	return nil
}
