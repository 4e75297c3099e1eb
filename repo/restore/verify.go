package restore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/internal/par"
	"github.com/cairn-backup/cairn/repo/tree"
)

// verify reads back the files the restore wrote and checks them against
// the snapshot: its size, each chunk hashing to its ID, each hole reading
// as zeros. The data is read from the disk, not from the
// page cache the restore filled. It returns how many files were equal; a
// file that is not is reported through warn.
func (rs *restorer) verify() int64 {
	var ok atomic.Int64
	files := make(chan *openFile)
	var wg sync.WaitGroup
	for range par.Cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for of := range files {
				if rs.ctx.Err() != nil {
					continue
				}
				var err error
				if buf, err = rs.verifyFile(of.path, of.node, buf); err != nil {
					rs.warn(of.path, fmt.Errorf("verify: %w", err))
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	for _, of := range rs.written {
		files <- of
	}
	close(files)
	wg.Wait()
	return ok.Load()
}

// verifyFile checks the file at path against n. It opens it as ingest
// does: without following a symlink, and with O_NOATIME, so that reading
// it back leaves the atime Apply set to the snapshot's.
func (rs *restorer) verifyFile(path string, n *tree.Node, buf []byte) ([]byte, error) {
	f, err := fsmeta.OpenRead(path)
	if errors.Is(err, unix.EACCES) {
		f, err = openOwnUnreadable(path)
	}
	if err != nil {
		return buf, err
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.Fdatasync(fd); err != nil {
		return buf, err
	}
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	if fi, err := f.Stat(); err != nil {
		return buf, err
	} else if fi.Size() != int64(n.Size) {
		return buf, fmt.Errorf("it is %d bytes, the snapshot's is %d", fi.Size(), n.Size)
	}
	codec := rs.r.Codec()
	var off int64
	for i, c := range n.Content {
		if c.Hole {
			var err error
			if buf, err = zerosAt(f, off, int64(c.Size), buf); err != nil {
				return buf, err
			}
			off += int64(c.Size)
			continue
		}
		if uint64(cap(buf)) < c.Size {
			buf = make([]byte, c.Size)
		}
		b := buf[:c.Size]
		if _, err := f.ReadAt(b, off); err != nil {
			return buf, fmt.Errorf("chunk %d at offset %d: %w", i, off, err)
		}
		if codec.ID(b) != c.ID {
			return buf, fmt.Errorf("chunk %d at offset %d (%d bytes) differs from the snapshot's", i, off, c.Size)
		}
		off += int64(c.Size)
	}
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	return buf, nil
}

// zerosAt checks that [off, off+n) of f reads as zeros, reading only where
// the filesystem has data (SEEK_DATA), in pieces of buf (grown to 1 MiB).
func zerosAt(f *os.File, off, n int64, buf []byte) ([]byte, error) {
	if cap(buf) < 1<<20 {
		buf = make([]byte, 1<<20)
	}
	fd, end := int(f.Fd()), off+n
	for pos := off; pos < end; {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) || err == nil && data >= end {
			return buf, nil
		}
		limit := end
		if err == nil {
			pos = data
			if hole, err := unix.Seek(fd, pos, unix.SEEK_HOLE); err == nil {
				limit = min(hole, end)
			}
		}
		for pos < limit {
			b := buf[:min(int64(cap(buf)), limit-pos)]
			k, err := f.ReadAt(b, pos)
			if err != nil && !(errors.Is(err, io.EOF) && k == len(b)) {
				return buf, fmt.Errorf("the hole at offset %d: %w", off, err)
			}
			for i, x := range b[:k] {
				if x != 0 {
					return buf, fmt.Errorf("the hole at offset %d (%d bytes) holds data at %d", off, n, pos+int64(i))
				}
			}
			pos += int64(k)
		}
	}
	return buf, nil
}

// openOwnUnreadable opens for reading a file the caller (not root) owns
// whose restored mode does not let its owner read it (000, 0200): it
// adds the owner's read bit for the open and sets the snapshot's mode
// again, since an open file stays readable.
func openOwnUnreadable(path string) (*os.File, error) {
	// Every step on one inode, held by an O_PATH descriptor of the
	// entry below the target (fsmeta: confined, and never through a
	// symlink, at the end or on the way): another user of the target
	// may swap the name for a symlink to, or a hardlink of, another of
	// the restoring user's files between the calls, and by name the
	// chmods would change that file.
	if os.Geteuid() == 0 {
		return fsmeta.OpenRead(path)
	}
	fd, err := fsmeta.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fsmeta.OpenRead(path)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || int(st.Uid) != os.Geteuid() || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o400 != 0 {
		return fsmeta.OpenRead(path)
	}
	// An O_PATH descriptor takes no fchmod: its /proc/self/fd link
	// names the inode itself, as glibc's fchmodat does.
	self := "/proc/self/fd/" + strconv.Itoa(fd)
	mode := st.Mode & 0o7777
	if err := unix.Chmod(self, mode|0o400); err != nil {
		return nil, &os.PathError{Op: "chmod u+r (to read it back)", Path: path, Err: err}
	}
	var rfd int
	for {
		// The owner may ask for O_NOATIME: reading back leaves the
		// atime Apply set.
		rfd, err = unix.Open(self, unix.O_RDONLY|unix.O_NOATIME|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if cerr := unix.Chmod(self, mode); cerr != nil {
		if err == nil {
			unix.Close(rfd)
		}
		return nil, &os.PathError{Op: "chmod back", Path: path, Err: cerr}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(rfd), path), nil
}
