// Package local keeps a repository in a folder of the local file system.
//
// Object "data/ab/abcd" is the file DIR/data/ab/abcd, written 0600 in folders
// made 0700. Saves go through a temporary file named ".tmp-*" in the target's
// folder, which List never reports: it is fsynced, renamed (or, for Create,
// hard-linked) into place, and the folder is fsynced, so an object is either
// complete and durable or absent. A crash can leave a stray temporary file;
// it is harmless and may be deleted.
//
// Run as root in a folder another user owns (sudo cairn ingest into
// ~alice/backup), files and folders are given the folder's owner and group,
// so that its owner can still use the repository afterwards.
//
// Create uses hard links (link(2)) where the file system has them (ext4,
// xfs, btrfs, zfs, tmpfs, NFS); on exFAT and FAT, which have none, it uses
// rename with RENAME_NOREPLACE, or an O_EXCL create and a rename.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
)

var _ backends.Backend = (*Local)(nil)

// tempPrefix begins the names of temporary files. Valid object names never
// have an element starting with ".", so these never collide with objects.
const tempPrefix = ".tmp-"

// Local is a repository in a local folder. It is safe for concurrent use,
// also by several processes sharing the folder.
type Local struct {
	root     string // symbolic links resolved, so List can walk it
	location string

	// dirs holds folders (absolute paths) known to exist with their entry
	// fsynced in the parent, so Save creates and syncs each one once.
	dirs sync.Map
	open openFiles // see KeepOpen

	// owner is the repository folder's owner and group, given to what
	// is created in it when running as root and they are not root's;
	// nil otherwise.
	owner *[2]int
}

// Open opens the existing repository folder dir.
func Open(dir string) (*Local, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open local repository %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("open local repository %s: %w", root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("open local repository %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open local repository %s: not a directory", root)
	}
	l := &Local{root: real, location: "local:" + root}
	l.dirs.Store(real, struct{}{})
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && (st.Uid != 0 || st.Gid != 0) {
		l.owner = &[2]int{int(st.Uid), int(st.Gid)}
	}
	return l, nil
}

// own gives name in dir, just created there by this process, the
// repository folder's owner (Local.owner), but only when dir is a folder
// of that owner's: they may put symlinks in the repository folder
// (data/ab pointing at /etc/apt/apt.conf.d), and a file root writes
// through one must stay root's, or they could write into it whatever root
// reads from there. In a folder of theirs, they can change what is in it
// anyway. want, when not nil, is the file's inode (from fstat before it
// was placed): name must still be it, with no other name. A file system
// that keeps no owners, or refuses, leaves it root's: the object is
// written all the same.
func (l *Local) own(dir, name string, want *unix.Stat_t) {
	if l.owner == nil {
		return
	}
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(dfd)
	var ds unix.Stat_t
	if unix.Fstat(dfd, &ds) != nil || int(ds.Uid) != l.owner[0] {
		return
	}
	// Opened without following a symlink and checked through the
	// descriptor, so that what is changed is the inode found in dir.
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		if st.Nlink != 1 || want == nil || st.Dev != want.Dev || st.Ino != want.Ino {
			return
		}
	default:
		return
	}
	_ = unix.Fchown(fd, l.owner[0], l.owner[1])
}

// inode is f's fstat, for own; nil when there is no owner to give it or
// fstat fails.
func (l *Local) inode(f *os.File) *unix.Stat_t {
	if l.owner == nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return nil
	}
	return &st
}

// Create opens the repository folder dir, first creating it (mode 0700) and
// any missing parents if needed. An existing folder is used as it is.
func Create(dir string) (*Local, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("create local repository %s: %w", dir, err)
	}
	if err := mkdirAll(root); err != nil {
		return nil, fmt.Errorf("create local repository: %w", err)
	}
	return Open(root)
}

// Location returns "local:" and the folder's absolute path as given.
func (l *Local) Location() string { return l.location }

// Close closes the files KeepOpen keeps (those in use close when their
// loads end).
func (l *Local) Close() error {
	l.open.closeAll()
	return nil
}

// path maps a valid object name to its file.
func (l *Local) path(name string) string {
	return filepath.Join(l.root, filepath.FromSlash(name))
}

// missing reports whether err means the file is not there, including a
// file standing where a folder on the path should be.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// check validates ctx and name before an operation called op.
func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := backends.CheckName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Stat describes name. Folders and other non-regular files are not objects.
func (l *Local) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	fi, err := os.Stat(l.path(name))
	if missing(err) || err == nil && !fi.Mode().IsRegular() {
		return backends.Info{}, fmt.Errorf("stat %s: %w", name, backends.ErrNotFound)
	}
	if err != nil {
		return backends.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return backends.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Remove deletes name and fsyncs its folder. Empty folders are kept.
func (l *Local) Remove(ctx context.Context, name string) error {
	if err := check(ctx, "remove", name); err != nil {
		return err
	}
	// After the unlink: a load that opened the file before it must not
	// keep it (see openFiles.gen).
	defer l.open.forget(name)
	p := l.path(name)
	fi, err := os.Lstat(p)
	if missing(err) || err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("remove %s: %w", name, backends.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := os.Remove(p); err != nil {
		if missing(err) {
			return fmt.Errorf("remove %s: %w", name, backends.ErrNotFound)
		}
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if backends.IsLazyRemoval(ctx) {
		return nil
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
