package restore

// What a restore does with what is already in the target: the overwrite
// policy, and when an existing file is taken for the snapshot's copy.

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// prepareDir makes sure a directory is at dst; existed says it was there.
// An existing one loses its default ACL at once: the files and folders
// restored into it would inherit it, and the snapshot's own attributes
// are set when its contents are complete. When it cannot lose it (not
// ours, when not root), its contents are restored all the same, and the
// warning says why they may carry more ACL entries than the snapshot's.
// One whose mode keeps its owner out (0555, 000) is opened up for the
// owner (not root) until then.
func (rs *restorer) prepareDir(dst string, fresh bool) (existed bool, err error) {
	if rs.opt.DryRun && fresh {
		return false, nil
	}
	fi, err := fsmeta.Lstat(dst)
	if err == nil {
		if fi.IsDir() {
			if rs.opt.DryRun {
				return true, nil
			}
			if err := fsmeta.DropDefaultACL(dst); err != nil {
				rs.warn(dst, err)
			}
			if err := fsmeta.OpenUp(dst); err != nil {
				rs.warn(dst, err)
			}
			return true, nil
		}
		if rs.opt.Overwrite == Never {
			// Said as what the user sees: a symlink to a folder (above
			// the paths, leading out of the target) lists as one.
			what := "exists and is not a directory"
			if fi.Mode()&os.ModeSymlink != 0 {
				what = "is a symlink where the snapshot has a directory, not followed"
			}
			return false, fmt.Errorf("%s (kept: --overwrite never): nothing restored into it", what)
		}
		if rs.opt.DryRun {
			return false, nil
		}
		if err := fsmeta.Remove(dst); err != nil {
			return false, err
		}
	} else if rs.opt.DryRun {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return false, fsmeta.Mkdir(dst, 0o700)
}

// clearWay applies the overwrite policy to an existing dst and removes
// it unless it is kept (with DryRun, only decides). keep means leave it
// as it is, and same that it is kept as the snapshot's (see sameFile);
// existed, that something was there.
func (rs *restorer) clearWay(dst string, n *tree.Node) (keep, same, existed bool, err error) {
	if keep, same, err := rs.decide(dst, n, false); keep || err != nil {
		return keep, same, keep, err
	}
	fi, err := rs.lstat(dst)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, false, false, nil
	case err != nil:
		return false, false, false, err
	case rs.opt.DryRun:
		return false, false, true, nil
	}
	if rs.flags && (fi.IsDir() || fi.Mode().IsRegular()) {
		// An immutable or append-only file or folder in the way
		// (of a symlink, a device, a folder) cannot be removed.
		if err := fsmeta.ClearBlockingFlags(dst); err != nil {
			return false, false, true, fmt.Errorf("clear immutable/append-only flags: %w", err)
		}
	}
	if fi.IsDir() {
		return false, false, true, fsmeta.RemoveAll(dst)
	}
	return false, false, true, fsmeta.Remove(dst)
}

// takeAsSnapshots gives dst, an existing path kept as the snapshot's n
// (decide's same), the snapshot's metadata. Only its content (or a
// symlink's target, a device's number) is trusted, so it gets the
// snapshot's owner, xattrs, mode and times, and loses xattrs the snapshot
// does not give it, as restic's if-changed does; else a setuid bit, a
// capability or an owner of an older restore stays. With --overwrite
// never it is left as it is. One that has them all already (a restore
// run again over its own result, the common case) gets no call that
// changes it: see fsmeta.ApplyChanged for what is compared and why that
// is enough. fi is decide's lstat of dst.
func (rs *restorer) takeAsSnapshots(dst string, n *tree.Node, fi os.FileInfo) {
	if rs.opt.DryRun || rs.opt.Overwrite == Never {
		return
	}
	if n.Kind == tree.KindSymlink {
		// sameEntry may have read its target, and readlink moves a symlink's
		// atime (relatime does once its ctime is past the atime, as
		// after any restore): judged by decide's lstat, taken before,
		// it would be left with the time of this re-run. One taken
		// now sees that, and the snapshot's atime is set again.
		fi, _ = fsmeta.Lstat(dst)
	}
	if _, err := fsmeta.ApplyChanged(dst, fi, n, fsmeta.ApplyOptions{SkipOwner: rs.opt.SkipOwner, Flags: rs.keepFlags}); err != nil {
		rs.warn(dst, err)
	}
}

// NewerKept is the notice for an existing file newer than the snapshot's
// copy, kept by the default policy (followed by a hint in parentheses).
const NewerKept = "existing file is newer than the snapshot's copy; kept"

// decide applies the overwrite policy to an existing dst without touching
// it: keep means leave it as it is; else it may be replaced (a folder in
// the way only with Always, or Delete: see dirInWay). same says dst was
// kept because it is a regular file of the snapshot's size and mtime
// (if-changed, if-newer, never), so taken for the snapshot's copy. link: dst is to become
// a hardlink, which an unchanged file does not prevent.
func (rs *restorer) decide(dst string, n *tree.Node, link bool) (keep, same bool, err error) {
	rs.judged = nil
	fi, err := rs.lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if rs.takenHere(rs.cur, dst) {
		return false, false, errNameTaken
	}
	if fi.IsDir() {
		return false, false, rs.dirInWay(dst)
	}
	// Whatever the policy and whether dst is to become a link: a name
	// replaced later (by this walk or a worker) lowers the link count
	// the inode's other names are judged by.
	seen := rs.remember(fi)
	rs.judged = fi
	mt := fi.ModTime().UnixNano()
	switch rs.opt.Overwrite {
	case Never:
		// Every file but one a killed restore left cut short: kept,
		// it would look restored to anyone finishing the job this way.
		if !leftByRestore(fi, n) {
			rs.keptName(dst, n, link)
			// The snapshot's copy (its size and mtime, one name), as
			// an earlier restore that stopped before the rest of its
			// hardlink group left it: the group's other names are
			// linked to it rather than made a second copy. Only with
			// the owner and mode that restore gave it: never sets no
			// metadata on what it keeps, and a file another user
			// planted with the snapshot's size and mtime (theirs,
			// 0666) must not become what the group's names, in
			// folders only root may enter, are links of.
			return true, !link && rs.sameFile(dst, fi, n, seen) && rs.asRestored(fi, n), nil
		}
	case IfNewer:
		if mt >= n.MTime && !leftByRestore(fi, n) && mayBeNewer(fi, n) {
			same := rs.sameFile(dst, fi, n, seen)
			if link && same {
				// The snapshot's copy, to become a link of its
				// group's first name: the link writes no data and
				// keeps the group whole, as with if-changed.
				break
			}
			rs.keptName(dst, n, link)
			return true, !link && same, nil
		}
	case IfChanged:
		if !link && rs.sameFile(dst, fi, n, seen) {
			rs.keptName(dst, n, link)
			return true, true, nil
		}
		if mt > n.MTime && !leftByRestore(fi, n) && mayBeNewer(fi, n) {
			rs.keptName(dst, n, link)
			if rs.opt.Notice != nil {
				rs.opt.Notice(dst, NewerKept+" (use --overwrite always to replace it)")
			}
			return true, false, nil
		}
	}
	return false, false, nil
}

// asRestored says whether fi has the owner and mode a restore gives n:
// the snapshot's owner (this user's, with SkipOwner) and n's mode.
func (rs *restorer) asRestored(fi os.FileInfo, n *tree.Node) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Mode&0o7777 != n.Mode&0o7777 {
		return false
	}
	if rs.opt.SkipOwner {
		return st.Uid == uint32(os.Geteuid())
	}
	return st.Uid == n.UID && st.Gid == n.GID
}

// mayBeNewer says whether the existing fi may be kept as newer than the
// snapshot's n (if-changed, if-newer): a regular file, whose data would be
// lost, or an entry of n's own kind (a symlink pointed elsewhere since).
// A symlink, fifo, socket or device where the snapshot has another kind
// holds no data: it is not a newer copy of the snapshot's entry, and
// replacing it loses nothing. A symlink left where the snapshot has
// /etc/passwd was kept (reported as a newer file), and the restored system
// read the file it pointed to.
func mayBeNewer(fi os.FileInfo, n *tree.Node) bool {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return true
	case m&os.ModeSymlink != 0:
		return n.Kind == tree.KindSymlink
	case m&os.ModeNamedPipe != 0:
		return n.Kind == tree.KindFIFO
	case m&os.ModeSocket != 0:
		return n.Kind == tree.KindSocket
	case m&os.ModeCharDevice != 0:
		return n.Kind == tree.KindCharDev
	case m&os.ModeDevice != 0:
		return n.Kind == tree.KindBlockDev
	}
	return true
}

// sameFile says whether fi is a regular file of the snapshot's size and
// mtime with no other name: taken for the snapshot's copy. So is a
// symlink to the snapshot's target, a fifo, a socket, or a device of the
// snapshot's kind and number: one with nothing to write, whose metadata
// takeAsSnapshots sets, so that a restore run again over its own result
// leaves them and reports them unchanged. One that shares its inode with
// another path is not, even when n's group has as many links, unless
// every one of its names is one of the group's in the target
// (groupInPlace): another name may be outside the target (a link planted
// there to /etc/shadow), and keeping it would link the group's other
// names to that file and setting n's metadata on it would set the outside
// file's. It is replaced, as restic replaces an existing file with
// several links (the group's names in the target are then linked to the
// new copy). The link count alone cannot tell once another of its names
// was replaced, so seen (from remember) says that decide met the inode at
// another path before: that is not taken either.
func (rs *restorer) sameFile(dst string, fi os.FileInfo, n *tree.Node, seen bool) bool {
	if seen {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Uid != n.UID && st.Uid != uint32(os.Geteuid()) {
		// Another user's file (one who may write into the folder):
		// they may hold it open for writing, and would go on writing
		// what becomes the snapshot's file, and its other names' (a
		// file planted with the snapshot's size and mtime). A new copy
		// is written, which no one else has open.
		return false
	}
	if st.Nlink > 1 {
		// Unless it is n's group as a restore left it, all its
		// names in the target (groupInPlace): a group of fifos or
		// symlinks as well as of regular files.
		return sameEntry(dst, fi, st, n) && rs.groupInPlace(dst, fi, st, n)
	}
	return sameEntry(dst, fi, st, n)
}

// sameEntry says whether fi at dst is of n's kind with n's size and mtime
// (a regular file), target (a symlink) or number (a device).
//
// A symlink with n's target's length and n's mtime and atime, to the
// nanosecond, is taken as n's without reading its target, as a regular
// file is by its size and mtime: changing a symlink's target makes a new
// one, with new times. Reading it would move its atime (relatime does,
// its ctime being later than the snapshot's atime), and takeAsSnapshots
// would set that back, moving its ctime at every re-run of a restore.
// Only one of the snapshot's owner or ours, as a restore leaves it: times
// are anyone's to set on their own symlink, and one another user planted
// with the snapshot's times and another target of the same length (in a
// folder they may write to) would be kept, and given the snapshot's
// owner, where the snapshot's target belongs (as sameFile does not keep
// another user's regular file).
func sameEntry(dst string, fi os.FileInfo, st *syscall.Stat_t, n *tree.Node) bool {
	switch t := st.Mode & unix.S_IFMT; n.Kind {
	case tree.KindFile:
		return t == unix.S_IFREG && uint64(fi.Size()) == n.Size && fi.ModTime().UnixNano() == n.MTime
	case tree.KindSymlink:
		if t != unix.S_IFLNK || fi.Size() != int64(len(n.LinkTarget)) {
			return false
		}
		if st.Mtim.Nano() == n.MTime && st.Atim.Nano() == n.ATime && (st.Uid == n.UID || st.Uid == uint32(os.Geteuid())) {
			return true
		}
		target, err := fsmeta.Readlink(dst)
		return err == nil && target == n.LinkTarget
	case tree.KindFIFO:
		return t == unix.S_IFIFO
	case tree.KindSocket:
		return t == unix.S_IFSOCK
	case tree.KindCharDev:
		return t == unix.S_IFCHR && st.Rdev == unix.Mkdev(n.DevMajor, n.DevMinor)
	case tree.KindBlockDev:
		return t == unix.S_IFBLK && st.Rdev == unix.Mkdev(n.DevMajor, n.DevMinor)
	}
	return false
}

// remember notes an existing inode with several names that decide meets,
// and says whether it met it before, at another path. The memory is
// looked up whatever the link count now is: once another name has been
// replaced, this one may be down to one link, and that is just when the
// memory matters. Walker only.
func (rs *restorer) remember(fi os.FileInfo) (seen bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || fi.IsDir() {
		return false
	}
	key := [2]uint64{uint64(st.Dev), st.Ino}
	if rs.shared[key] {
		return true
	}
	if st.Nlink > 1 {
		rs.shared[key] = true
	}
	return false
}

// lstat is fsmeta.Lstat, but for a path in a folder a dry run would make
// new: nothing is there. restoreFile's lstat of p, just made (rs.stated),
// is taken once instead of a second call.
func (rs *restorer) lstat(p string) (os.FileInfo, error) {
	if rs.fresh {
		return nil, &os.PathError{Op: "lstat", Path: p, Err: unix.ENOENT}
	}
	if fi := rs.stated; fi != nil && rs.statedPath == p {
		rs.stated, rs.statedPath = nil, ""
		return fi, nil
	}
	return fsmeta.Lstat(p)
}

// kept counts and reports dst, of the snapshot's n, left as it is.
func (rs *restorer) kept(dst string, n *tree.Node) { rs.keptName(dst, n, false) }

// keptName is kept, for dst that is to be a hardlink of its group's first
// name when link is set: its bytes are not counted (the first name's are,
// and a link restored writes none), so that the summary's total is the
// same whether the names are kept or linked.
func (rs *restorer) keptName(dst string, n *tree.Node, link bool) {
	rs.stats.skipped.Add(1)
	size := uint64(0)
	if n.Kind == tree.KindFile && !link {
		size = n.Size
		rs.stats.skippedBytes.Add(int64(size))
	}
	rs.item(dst, Unchanged, size)
}
