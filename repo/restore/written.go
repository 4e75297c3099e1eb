package restore

// A file the restore wrote: whether a name still leads to it, and giving
// it its metadata through its own descriptor (see chunkDone).

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// errSwapped: the name the restore was writing a file under leads to
// another file (or a symlink) now.
var errSwapped = errors.New("replaced by another file while it was restored; not restored")

// reopen opens the temporary again for writing: never through a symlink,
// and only if it is still the file this restore made.
func (of *openFile) reopen() (*os.File, error) {
	fd, err := of.reopenFd(of.tmp, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), of.tmp), nil
}

// reopenFd opens p (the temporary, or the final name) for writing, with
// flags: never through a symlink, and only if it is still the file this
// restore made. The descriptor is not made an *os.File: with O_NONBLOCK,
// os.NewFile would try the poller for it (an fcntl and an epoll_ctl that
// fails for a regular file), two wasted calls for each file.
func (of *openFile) reopenFd(p string, flags int) (int, error) {
	var fd int
	var err error
	for {
		fd, err = fsmeta.Open(p, flags|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.ELOOP) {
		return -1, &os.PathError{Op: "open", Path: p, Err: errSwapped}
	}
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if [2]uint64{st.Dev, st.Ino} != of.ino {
		unix.Close(fd)
		return -1, &os.PathError{Op: "open", Path: p, Err: errSwapped}
	}
	return fd, nil
}

// same says the entry at p is the file of is writing.
func (of *openFile) same(p string) error {
	fi, err := fsmeta.Lstat(p)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || [2]uint64{uint64(st.Dev), st.Ino} != of.ino {
		return &os.PathError{Op: "lstat", Path: p, Err: errSwapped}
	}
	return nil
}

// setMeta gives the file of wrote, open at fd, its metadata: the
// snapshot's (fsmeta.ApplyFd), or a damaged file's (markDamaged).
func (rs *restorer) setMeta(of *openFile, fd int) {
	var err error
	if of.damaged.Load() {
		// In place with its damage reported, but without the
		// snapshot's times and mode, so that nothing (a later restore
		// comparing size and mtime, a glance at ls) takes it for whole.
		// Its mtime goes back to 1970, before the snapshot's: left at
		// the time of writing, it would be newer than the snapshot's
		// copy, which a later restore (if-changed, if-newer) keeps,
		// so that running it again once the repository or the network
		// is mended would keep the zeros and report no error.
		err = markDamaged(fd, of.path, min(0, of.node.MTime-1))
	} else {
		err = fsmeta.ApplyFd(fd, of.path, of.node, fsmeta.ApplyOptions{SkipOwner: rs.opt.SkipOwner, Flags: rs.setFlags(of.path, of.node, of.existed)})
	}
	if err != nil {
		rs.warn(of.path, err)
	}
}

// markDamaged gives the damaged file open at fd (path names it) mode 0600
// (not its writing mode, which a later restore takes for a killed one's)
// and mtime and atime stale (ns).
func markDamaged(fd int, path string, stale int64) error {
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return &os.PathError{Op: "fchmod", Path: path, Err: err}
	}
	tv := unix.NsecToTimeval(stale)
	if err := unix.Futimes(fd, []unix.Timeval{tv, tv}); err != nil {
		return &os.PathError{Op: "futimes", Path: path, Err: err}
	}
	return nil
}
