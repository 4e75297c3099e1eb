package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
)

// Save writes data to a temporary file beside the object, fsyncs it, renames
// it over the object and fsyncs the folder. On failure the temporary file is
// removed and the object is unchanged.
func (l *Local) Save(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "save", name); err != nil {
		return err
	}
	if err := l.write(name, data, os.Rename); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

// Create is Save with a hard link in place of the rename: link(2) fails if
// the object exists, so of several concurrent creators exactly one wins, and
// the loser's error wraps ErrExists.
func (l *Local) Create(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "create", name); err != nil {
		return err
	}
	err := l.write(name, data, func(tmp, target string) error {
		err := linkFile(tmp, target)
		if noHardLinks(err) {
			// exFAT and FAT (USB sticks and disks) have no hard links.
			return placeNoReplace(tmp, target)
		}
		if errors.Is(err, fs.ErrExist) {
			return backends.ErrExists
		}
		if err == nil {
			_ = os.Remove(tmp) // a stray temporary file is harmless
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	return nil
}

// write puts data in a synced temporary file in the object's folder, calls
// place to move it to the object's path, and fsyncs the folder. The
// temporary file is removed if anything up to and including place fails.
func (l *Local) write(name string, data []byte, place func(tmp, target string) error) error {
	defer l.open.forget(name) // a kept file of the old object
	target := l.path(name)
	dir := filepath.Dir(target)
	f, err := l.tempFile(dir)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	ino := l.inode(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(f.Name(), target)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	l.own(dir, filepath.Base(target), ino)
	return syncDir(dir)
}

// tempFile creates an empty temporary file (mode 0600) in dir, creating dir
// first if needed.
func (l *Local) tempFile(dir string) (*os.File, error) {
	if err := l.ensureDir(dir); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		// A folder was deleted since we last made sure of it.
		l.forgetDirs(dir)
		if err := l.ensureDir(dir); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(dir, tempPrefix+"*")
	}
	return f, err
}

// linkFile and renameNoReplace are variables so that tests can play a file
// system without hard links or without RENAME_NOREPLACE.
var (
	linkFile        = os.Link
	renameNoReplace = func(from, to string) error {
		return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	}
)

// noHardLinks reports whether err from link(2) means the file system has no
// hard links (EPERM from FAT and exFAT, EOPNOTSUPP or ENOSYS from others).
func noHardLinks(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOSYS)
}

// placeNoReplace moves tmp to target unless target exists, for file systems
// without hard links: renameat2(RENAME_NOREPLACE) where the file system has
// it, else target is first created empty with O_EXCL (so of several
// creators exactly one wins) and tmp renamed over it.
func placeNoReplace(tmp, target string) error {
	err := renameNoReplace(tmp, target)
	if errors.Is(err, syscall.EEXIST) {
		return backends.ErrExists
	}
	if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOSYS) &&
		!errors.Is(err, syscall.EOPNOTSUPP) {
		return err
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return backends.ErrExists
	}
	if err != nil {
		return err
	}
	f.Close()
	if err := os.Rename(tmp, target); err != nil {
		_ = os.Remove(target)
		return err
	}
	return nil
}
