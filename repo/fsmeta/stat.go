package fsmeta

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// Stat lstats path, never following a symlink, and returns its Node with
// every attribute filled in except Content and Subtree, which the caller
// computes from the data. Name is the last element of path as raw bytes.
//
// User and Group are the names of UID and GID, or empty when an id has no
// name. Size is set for regular files only; DevMajor and DevMinor for
// device nodes only; LinkTarget for symlinks only. Links is st_nlink for
// every kind. Xattrs holds every extended attribute in every namespace,
// sorted by name; an attribute removed while being read is left out.
func Stat(path string) (*tree.Node, error) { return lstat(path, true) }

// StatNoXattrs is Stat without the extended attributes, for a caller that
// may know them already: setting or removing one changes the ctime, so a
// file whose ctime (and inode) did not change has the attributes it had.
func StatNoXattrs(path string) (*tree.Node, error) { return lstat(path, false) }

func lstat(path string, xattrs bool) (*tree.Node, error) {
	var n *tree.Node
	err := rawLstat(path, func(name string, st *unix.Stat_t) (err error) {
		n, err = fromStat(path, name, st, xattrs)
		return err
	})
	return n, err
}

// rawLstat lstats path (however long) and calls fn with the name it can
// be reached by meanwhile and what lstat said.
func rawLstat(path string, fn func(name string, st *unix.Stat_t) error) error {
	p, err := shorten(path)
	if err != nil {
		return fmt.Errorf("lstat %s: %w", path, err)
	}
	defer p.close()
	var st unix.Stat_t
	if err := unix.Lstat(p.name, &st); err != nil {
		return fmt.Errorf("lstat %s: %w", path, err)
	}
	return fn(p.name, &st)
}

// FromStat is Stat for a caller that already holds the lstat of path (for
// instance from fstatat while walking a directory): it reads only the
// symlink target and the extended attributes from path.
func FromStat(path string, st *unix.Stat_t) (*tree.Node, error) {
	p, err := shorten(path)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	defer p.close()
	return fromStat(path, p.name, st, true)
}

// fromStat reads what st does not hold from sys, the name of path for the
// system calls (see shorten).
func fromStat(path, sys string, st *unix.Stat_t, xattrs bool) (*tree.Node, error) {
	kind, err := kindOf(st.Mode)
	if err != nil {
		return nil, fmt.Errorf("stat %s: mode %#o: %w", path, st.Mode, err)
	}
	n := &tree.Node{
		Name:  filepath.Base(path),
		Kind:  kind,
		Mode:  st.Mode & 0o7777,
		UID:   st.Uid,
		GID:   st.Gid,
		User:  userName(st.Uid),
		Group: groupName(st.Gid),
		MTime: nanos(st.Mtim),
		ATime: nanos(st.Atim),
		CTime: nanos(st.Ctim),
		Dev:   uint64(st.Dev),
		Inode: st.Ino,
		Links: uint32(st.Nlink),
	}
	switch kind {
	case tree.KindFile:
		n.Size = uint64(st.Size)
	case tree.KindCharDev, tree.KindBlockDev:
		n.DevMajor = unix.Major(uint64(st.Rdev))
		n.DevMinor = unix.Minor(uint64(st.Rdev))
	case tree.KindSymlink:
		if n.LinkTarget, err = readlink(path, sys, st.Size); err != nil {
			return nil, err
		}
	}
	if xattrs {
		if n.Xattrs, err = readXattrs(path, sys); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// nanos is ts in nanoseconds since the epoch, as a snapshot records it.
// Times beyond what that holds (before 1677-09-21 or after 2262-04-11;
// ext4 and XFS keep times up to 2446) are recorded as the nearest one it
// does hold, not wrapped around to a date centuries away.
func nanos(ts unix.Timespec) int64 {
	const second = 1_000_000_000
	const maxSec, minSec = math.MaxInt64 / second, math.MinInt64/second - 1
	switch {
	case ts.Sec > maxSec || ts.Sec == maxSec && ts.Nsec > math.MaxInt64%second:
		return math.MaxInt64
	case ts.Sec < minSec || ts.Sec == minSec && ts.Nsec < second+math.MinInt64%second:
		return math.MinInt64
	}
	return ts.Sec*second + ts.Nsec
}

// kindOf maps the S_IFMT bits of a stat mode to a Kind.
func kindOf(mode uint32) (tree.Kind, error) {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return tree.KindFile, nil
	case unix.S_IFDIR:
		return tree.KindDir, nil
	case unix.S_IFLNK:
		return tree.KindSymlink, nil
	case unix.S_IFCHR:
		return tree.KindCharDev, nil
	case unix.S_IFBLK:
		return tree.KindBlockDev, nil
	case unix.S_IFIFO:
		return tree.KindFIFO, nil
	case unix.S_IFSOCK:
		return tree.KindSocket, nil
	}
	return 0, ErrKind
}

// readlink returns the raw target of the symlink at path (sys for the
// system call). sizeHint is the symlink's st_size, its target length on
// most filesystems; the buffer grows if the target turns out longer (a
// racing replacement, or a filesystem that reports 0).
func readlink(path, sys string, sizeHint int64) (string, error) {
	size := max(int(sizeHint)+1, 128)
	for {
		buf := make([]byte, size)
		n, err := unix.Readlink(sys, buf)
		if err != nil {
			return "", fmt.Errorf("readlink %s: %w", path, err)
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		size *= 2
	}
}

// A Clamp is a time of a file beyond what a snapshot holds (see nanos):
// Which of its times ("mtime", "atime" or "ctime"), the file's time Real,
// and Stored, the nanoseconds since the epoch recorded instead.
type Clamp struct {
	Which  string
	Real   unix.Timespec
	Stored int64
}

// MayBeClamped reports whether a time of n is at the limit of what a
// snapshot holds, so that Clamps should be asked which one was clamped.
func MayBeClamped(n *tree.Node) bool {
	for _, t := range [...]int64{n.MTime, n.ATime, n.CTime} {
		if t == math.MaxInt64 || t == math.MinInt64 {
			return true
		}
	}
	return false
}

// Clamps lstats path and returns the times of it that Stat records
// clamped, in the order mtime, atime, ctime.
func Clamps(path string) ([]Clamp, error) {
	var cs []Clamp
	err := rawLstat(path, func(_ string, st *unix.Stat_t) error {
		cs = clamps(st)
		return nil
	})
	return cs, err
}

func clamps(st *unix.Stat_t) []Clamp {
	var out []Clamp
	for _, t := range [...]struct {
		which string
		ts    unix.Timespec
	}{{"mtime", st.Mtim}, {"atime", st.Atim}, {"ctime", st.Ctim}} {
		n := nanos(t.ts)
		if !time.Unix(t.ts.Sec, t.ts.Nsec).Equal(time.Unix(0, n)) {
			out = append(out, Clamp{t.which, t.ts, n})
		}
	}
	return out
}
