package fsmeta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// OpenRead opens the regular file at path for reading. It does not follow a
// symlink (ELOOP), and it opens with O_NOATIME so backing a file up leaves
// its atime alone, falling back to a plain open where the kernel refuses
// O_NOATIME (EPERM: the caller neither owns the file nor has CAP_FOWNER).
//
// Anything but a regular file is closed again and reported as
// ErrNotRegular; the open is non-blocking so a fifo swapped in after Stat
// cannot hang the caller. The returned file is in blocking mode.
func OpenRead(path string) (*os.File, error) {
	fd, noatime, err := openFlags(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fstat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: %w", path, ErrNotRegular)
	}
	// The status flags set outright, not read and changed: one fcntl per
	// file instead of two, thousands of times over a folder of small files.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, noatime); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fcntl %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// Prefetch asks the kernel to read the first size bytes of the file at
// path into the page cache, without waiting for them. It does not follow
// a symlink, does not block on a fifo, leaves the atime alone where
// permitted, and says nothing when it cannot: it is only a hint.
func Prefetch(path string, size int64) {
	fd, err := openNoatime(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return
	}
	unix.Fadvise(fd, 0, size, unix.FADV_WILLNEED)
	unix.Close(fd)
}

// ReadDirNames returns the names in the directory at path, sorted bytewise,
// without "." and "..". Like OpenRead it does not follow a symlink and
// leaves the directory's atime alone where permitted.
func ReadDirNames(path string) ([]string, error) {
	fd, err := openNoatime(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("readdir %s: %w", path, err)
	}
	slices.Sort(names)
	return names, nil
}

// openNoatime opens path with flags|O_CLOEXEC|O_NOATIME, retrying without
// O_NOATIME on EPERM.
func openNoatime(path string, flags int) (int, error) {
	fd, _, err := openFlags(path, flags)
	return fd, err
}

// openFlags is openNoatime that also returns O_NOATIME when the file was
// opened with it, and 0 when the kernel refused it.
func openFlags(path string, flags int) (int, int, error) {
	p, err := shorten(path)
	if err != nil {
		return -1, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer p.close()
	flags |= unix.O_CLOEXEC
	noatime := unix.O_NOATIME
	fd, err := unix.Open(p.name, flags|noatime, 0)
	if errors.Is(err, unix.EPERM) {
		noatime = 0
		fd, err = unix.Open(p.name, flags, 0)
	}
	if err != nil {
		return -1, 0, fmt.Errorf("open %s: %w", path, err)
	}
	return fd, noatime, nil
}

// Extent is a region of a file that holds data, as opposed to a hole.
type Extent struct {
	Off, Len int64
}

// DataExtents returns the data regions of f within [0, size), in order,
// found with SEEK_DATA and SEEK_HOLE; everything between them is a hole
// that reads as zeros. A file that is all hole, or size 0, yields none. A
// filesystem without hole support yields one extent covering [0, size)
// (the kernel's generic fallback does the same). Extents are clamped to
// size, so a file growing meanwhile does not extend the result.
//
// DataExtents moves f's offset: read f with ReadAt.
func DataExtents(f *os.File, size int64) ([]Extent, error) {
	if size <= 0 {
		return nil, nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("extents %s: %w", f.Name(), err)
	}
	var out []Extent
	var serr error
	err = rc.Control(func(fd uintptr) {
		out, serr = dataExtents(int(fd), size)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("extents %s: %w", f.Name(), err)
	}
	return out, nil
}

func dataExtents(fd int, size int64) (out []Extent, err error) {
	// Most files have no hole: one SEEK_HOLE from the start finds that
	// (the hole it finds is the file's end), where SEEK_DATA and then
	// SEEK_HOLE took two calls for each of thousands of small files.
	first, err := unix.Seek(fd, 0, unix.SEEK_HOLE)
	switch {
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EOPNOTSUPP):
		return []Extent{{0, size}}, nil // no hole support
	case errors.Is(err, unix.ENXIO):
		return nil, nil // the file shrank to nothing: the reader will see it
	case err != nil:
		return nil, fmt.Errorf("lseek SEEK_HOLE 0: %w", err)
	}
	off := int64(0)
	if first > 0 {
		// Data from the start up to the first hole.
		first = min(first, size)
		out = append(out, Extent{0, first})
		off = first
	}
	for off < size {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case errors.Is(err, unix.ENXIO):
			return out, nil // no data at or after off
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EOPNOTSUPP):
			return append(out, Extent{off, size - off}), nil // no hole support
		case err != nil:
			return nil, fmt.Errorf("lseek SEEK_DATA %d: %w", off, err)
		}
		if data >= size {
			return out, nil
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if errors.Is(err, unix.ENXIO) {
			hole = size // the file shrank under us: the reader will see it
		} else if err != nil {
			return nil, fmt.Errorf("lseek SEEK_HOLE %d: %w", data, err)
		}
		hole = min(hole, size)
		out = append(out, Extent{data, hole - data})
		off = hole
	}
	return out, nil
}

// FstatNode returns the node of the open file f (named path) as fstat
// sees it, without its extended attributes: what a file opened after it
// was listed really is, when it was replaced or changed in between.
func FstatNode(f *os.File, path string) (*tree.Node, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("fstat %s: %w", path, serr)
	}
	return fromStat(path, "", &st, false)
}

// SetNonblock makes reads of f fail with EAGAIN instead of waiting when it
// has nothing to give now (a regular file ignores it; /proc/kmsg and
// tracing pipes, which stat as empty regular files, would wait forever).
func SetNonblock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		var fl int
		if fl, serr = unix.FcntlInt(fd, unix.F_GETFL, 0); serr == nil {
			_, serr = unix.FcntlInt(fd, unix.F_SETFL, fl|unix.O_NONBLOCK)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("fcntl %s: %w", f.Name(), err)
	}
	return nil
}

// ConsumedByReading says f, a file that stats as empty, is one whose data
// a read takes away from its other readers: /proc/kmsg (the kernel log,
// which the system's log daemon reads) and the tracing pipes of tracefs
// and debugfs. Reading such a file would change the machine backed up.
func ConsumedByReading(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var st unix.Statfs_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &st) }); err != nil || serr != nil {
		return false
	}
	base := filepath.Base(f.Name())
	switch st.Type {
	case unix.PROC_SUPER_MAGIC:
		return base == "kmsg"
	case unix.TRACEFS_MAGIC, unix.DEBUGFS_MAGIC:
		return base == "trace_pipe" || base == "trace_pipe_raw"
	}
	return false
}
