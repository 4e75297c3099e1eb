package fsmeta

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// Inode flags (linux/fs.h), as chattr sets them and FS_IOC_GETFLAGS
// reads them.
const (
	FlagSync      = 0x00000008 // S
	FlagImmutable = 0x00000010 // i
	FlagAppend    = 0x00000020 // a
	FlagNoDump    = 0x00000040 // d
	FlagNoAtime   = 0x00000080 // A
	FlagDirSync   = 0x00010000 // D
	FlagTopDir    = 0x00020000 // T
	FlagNoCOW     = 0x00800000 // C
)

// FlagsKept are the inode flags a snapshot records and a restore sets:
// the ones a user sets with chattr and that mean the same on any
// filesystem supporting them. Flags a filesystem sets by itself (extents,
// inline data, encryption, verity, casefold) and compression are left
// out: they describe how a filesystem stores the file, not the file.
//
// They are read (Flags) for regular files and directories only, with
// FS_IOC_GETFLAGS on a descriptor opened without following symlinks and
// without blocking; never for devices (the ioctl would go to the driver),
// fifos, sockets or symlinks (which cannot be opened for it).
const FlagsKept = FlagSync | FlagImmutable | FlagAppend | FlagNoDump | FlagNoAtime | FlagDirSync | FlagTopDir | FlagNoCOW

// FlagsBlocking are the flags that forbid changing a file: a restore
// over it clears them first.
const FlagsBlocking = FlagImmutable | FlagAppend

// noFlags reports whether err says the filesystem has no inode flags.
func noFlags(err error) bool {
	return errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL)
}

// openForFlags opens the file or directory at path for the flag ioctls,
// without following a symlink, blocking, or touching its atime, and
// returns -1 without an error for anything but a regular file or
// directory.
func openForFlags(path string) (int, error) {
	fd, err := openNoatime(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return -1, nil // a symlink
		}
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("fstat %s: %w", path, err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
		unix.Close(fd)
		return -1, nil
	}
	return fd, nil
}

// Flags returns the inode flags of the regular file or directory at path
// that a snapshot keeps (FlagsKept); 0 for other kinds. kind is what
// lstat said path is: no other kind is opened. The only error is a path
// gone since (ENOENT, ENOTDIR): flags are kept where they can be read,
// and a file or folder is never left out of a snapshot for them, so what
// cannot be opened (EACCES: its own reading reports that; EMFILE; a
// filesystem's odd answer) or has no flags (tmpfs, FUSE) records none.
func Flags(path string, kind tree.Kind) (uint32, error) {
	if kind != tree.KindFile && kind != tree.KindDir {
		return 0, nil
	}
	fd, err := openForFlags(path)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return 0, err
	}
	if err != nil || fd < 0 {
		return 0, nil
	}
	defer unix.Close(fd)
	fl, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return 0, nil
	}
	return fl & FlagsKept, nil
}

// SetFlags gives the regular file or directory at path the flags want of
// FlagsKept, keeping the flags outside FlagsKept it has. It does nothing
// when they are already so, and for other kinds. A filesystem without
// inode flags fails with ENOTTY or EOPNOTSUPP (see NoFlagsSupport).
func SetFlags(path string, want uint32) error {
	return changeFlags(path, FlagsKept, want&FlagsKept)
}

// ClearBlockingFlags removes the immutable and append-only flags from the
// regular file or directory at path, if it has them, so it can be
// written, replaced or removed. A missing path or a filesystem without
// inode flags is no failure.
func ClearBlockingFlags(path string) error {
	err := changeFlags(path, FlagsBlocking, 0)
	if errors.Is(err, unix.ENOENT) || noFlags(err) {
		return nil
	}
	return err
}

// ClearBlockingFlagsFd is ClearBlockingFlags for the regular file or
// directory open at fd (for instance with openat, O_NOFOLLOW and
// O_NONBLOCK; never a device, whose driver would get the ioctl).
func ClearBlockingFlagsFd(fd int) error {
	err := changeFlagsFd(fd, FlagsBlocking, 0)
	if noFlags(err) {
		return nil
	}
	return err
}

// changeFlags sets the bits mask of path's flags to want.
// Only a regular file or directory is opened: never a device in the
// way, which opening alone can affect (a tape rewinds).
func changeFlags(path string, mask, want uint32) error {
	var st unix.Stat_t
	p, err := shorten(path)
	if err != nil {
		return err
	}
	err = unix.Lstat(p.name, &st)
	p.close()
	if err != nil {
		return err
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
		return nil
	}
	fd, err := openForFlags(path)
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd)
	return changeFlagsFd(fd, mask, want)
}

func changeFlagsFd(fd int, mask, want uint32) error {
	cur, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		if noFlags(err) && want == 0 {
			return nil // none to clear
		}
		return err
	}
	next := cur&^mask | want
	if next == cur {
		return nil
	}
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(int32(next)))
}

// NoFlagsSupport reports whether err, a failure of Apply's "setflags"
// step, says the target filesystem does not support inode flags (tmpfs,
// vfat, FUSE), or that this process may not set them (EPERM). Any other error is not about flags, whatever its errno: a
// symlink the exFAT FUSE driver cannot make (ENOSYS) or a name vfat
// refuses (EINVAL) must stay a failure.
func NoFlagsSupport(err error) bool {
	var fe *Error
	if !errors.As(err, &fe) || fe.Op != "setflags" {
		return false
	}
	// EPERM: root without CAP_LINUX_IMMUTABLE (a container's default)
	// may not set immutable or append-only.
	return noFlags(fe.Err) || errors.Is(fe.Err, unix.EPERM)
}

// flagLetters are FlagsKept in lsattr's order and letters.
var flagLetters = []struct {
	bit    uint32
	letter byte
}{
	{FlagSync, 'S'}, {FlagDirSync, 'D'}, {FlagImmutable, 'i'}, {FlagAppend, 'a'},
	{FlagNoDump, 'd'}, {FlagNoAtime, 'A'}, {FlagTopDir, 'T'}, {FlagNoCOW, 'C'},
}

// FlagString renders the flags of FlagsKept as chattr letters, in
// lsattr's order ("ia" for immutable and append-only), "" for none.
// Other bits show as hex.
func FlagString(fl uint32) string {
	var b []byte
	for _, l := range flagLetters {
		if fl&l.bit != 0 {
			b = append(b, l.letter)
		}
	}
	if rest := fl &^ FlagsKept; rest != 0 {
		b = fmt.Appendf(b, "+%#x", rest)
	}
	return string(b)
}
