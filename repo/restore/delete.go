package restore

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Options.Delete: a pass over the target once the restore is complete,
// walking the snapshot's folders as the restore did and, in each one the
// target has, removing the entries the snapshot lacks that the selection
// covers. Every step below the target goes through a descriptor of the
// folder above it (openat with O_NOFOLLOW, fstatat and unlinkat), so a
// symlink is removed as a link and never followed, and nothing outside
// the target can be reached, even if the tree changes meanwhile.

// NotDeleted is the notice for a folder whose extra entries are kept
// because something in it (or below) could not be restored.
const NotDeleted = "not deleting what the snapshot lacks here: something in this folder could not be restored"

// NotDeletedIncomplete is the notice for a folder whose extra entries are
// kept because the ingest did not take it whole (tree.Node.Incomplete):
// what the snapshot lacks there may never have been backed up.
const NotDeletedIncomplete = "not deleting what the snapshot lacks here: the ingest did not take this folder whole (an entry unreadable or over the size limit, a mount point not crossed, or a tagged cache)"

// deletePass removes (with DryRun, counts and reports) what the restored
// folder root at rel holds in the target and the snapshot does not.
func (rs *restorer) deletePass(root *tree.Node, rel string) {
	// A folder where a path failed, and every folder above it, keeps
	// what it has: what is missing may be what was to replace it.
	rs.failedMu.Lock()
	failed := rs.failed
	rs.failedMu.Unlock()
	spoilt := map[string]bool{}
	for _, p := range failed {
		for d := filepath.Clean(p); !spoilt[d]; {
			spoilt[d] = true
			up := filepath.Dir(d)
			if up == d {
				break
			}
			d = up
		}
	}
	flags := rs.openFlags(rel) | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := noatime(flags, func(flags int) (int, error) { return fsmeta.Open(rs.base, flags, 0) })
	if err != nil {
		if !(rs.opt.DryRun && errors.Is(err, unix.ENOENT)) {
			rs.warn(rs.base, fmt.Errorf("delete what the snapshot lacks: %w", err))
		}
		return
	}
	defer unix.Close(fd)
	rs.targetFd, rs.inDelete = fd, true
	defer func() { rs.inDelete = false }()
	rs.pruneTree(fd, root.Subtree, root.Incomplete, rs.base, rel, spoilt)
}

// openInTarget opens real, a folder inside the target that
// a followed symlink led to, from the target's descriptor one component at
// a time with O_NOFOLLOW: nothing outside the target is reached, whatever
// changed on the way since the symlink was followed.
func (rs *restorer) openInTarget(real string, flags int) (int, error) {
	// real is spelt from the target as it was given (followAbove), not
	// from rs.realTarget: the target may be reached through a symlink.
	in, err := filepath.Rel(filepath.Clean(rs.opt.Target), real)
	if !rs.inDelete || err != nil || in == ".." || strings.HasPrefix(in, "../") || filepath.IsAbs(in) {
		return -1, unix.ENOENT
	}
	var comps []string
	for _, c := range strings.Split(in, "/") {
		if c != "" {
			comps = append(comps, c)
		}
	}
	if len(comps) == 0 {
		return openat(rs.targetFd, ".", flags)
	}
	fd := rs.targetFd
	for i, c := range comps {
		f := unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if i == len(comps)-1 {
			f = flags
		}
		next, err := openat(fd, c, f)
		if fd != rs.targetFd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// pruneTree deletes the extra entries of the folder open at fd (dst in the
// target, rel in the snapshot, where it is tree tid, incomplete if its
// node says so), then goes into its subfolders that the restore went into.
func (rs *restorer) pruneTree(fd int, tid id.ID, incomplete bool, dst, rel string, spoilt map[string]bool) {
	if rs.ctx.Err() != nil {
		return
	}
	nodes, err := rs.r.LoadTree(rs.ctx, tid)
	if err != nil {
		if !spoilt[dst] && rs.ctx.Err() == nil { // else the restore said so
			rs.warn(dst, fmt.Errorf("not deleting what the snapshot lacks: %w", err))
		}
		return
	}
	switch {
	case rs.above(rel):
		// Only on the way to the snapshot's paths (/ and /home for a
		// snapshot of /home/ann): the snapshot holds nothing else of it,
		// so what else it has here was never backed up, not removed
		// since. Deleting it would wipe the system beside the restored
		// folder (restic's --delete does, and refuses --target / for it).
	case spoilt[dst]:
		if rs.opt.Notice != nil {
			rs.opt.Notice(dst, NotDeleted)
		}
	case incomplete:
		if rs.opt.Notice != nil {
			rs.opt.Notice(dst, NotDeletedIncomplete)
		}
	default:
		names, err := readNames(fd)
		if err != nil {
			rs.warn(dst, fmt.Errorf("not deleting what the snapshot lacks: %w", err))
			break
		}
		in := make(map[string]struct{}, len(nodes))
		for _, n := range nodes {
			in[n.Name] = struct{}{}
		}
		for _, name := range names {
			if rs.ctx.Err() != nil {
				return
			}
			if _, ok := in[name]; !ok {
				rs.deleteExtra(fd, name, filepath.Join(dst, name), path.Join(rel, name))
			}
		}
	}
	for _, n := range nodes {
		if n.Kind != tree.KindDir {
			continue
		}
		crel := path.Join(rel, n.Name)
		if !rs.incl.Includes(crel) && !rs.incl.MayContain(crel) {
			continue
		}
		cfd, err := openat(fd, n.Name, rs.openFlags(crel)|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
		if real, ok := rs.followed[filepath.Join(dst, n.Name)]; ok && err != nil && rs.above(crel) {
			// A symlink above the paths the restore followed to a
			// folder inside the target (followAbove): gone through
			// the same way, to the same folder, reached from the
			// target through no symlink (not by its path, which a
			// symlink put on the way since would lead elsewhere).
			cfd, err = rs.openInTarget(real, rs.openFlags(crel)|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
		}
		switch {
		case err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP:
			// Not made (nothing in it was selected, or with DryRun it
			// is yet to be), or not a folder: kept as --overwrite never
			// keeps it (reported), or, with DryRun, to be replaced.
			continue
		case err != nil:
			rs.warn(filepath.Join(dst, n.Name), fmt.Errorf("not deleting what the snapshot lacks: %w", err))
			continue
		}
		rs.pruneTree(cfd, n.Subtree, n.Incomplete, filepath.Join(dst, n.Name), crel, spoilt)
		unix.Close(cfd)
	}
}

// openFlags is how pruneTree opens the folder at rel: one above the
// snapshot's paths is only gone through, never read, so with O_PATH,
// which needs no read permission there: a user restoring /home/ann in
// place where /home is 0711 deleted nothing and got an error.
//
// A folder read is opened with O_NOATIME (see openat): the restore gave it
// the snapshot's atime, and one its reading moved would have all its
// metadata set again afterwards, its ctime moved, on every re-run with
// --delete.
func (rs *restorer) openFlags(rel string) int {
	if rs.above(rel) {
		return unix.O_PATH
	}
	return unix.O_RDONLY | unix.O_NOATIME
}

// deleteExtra deletes name, in the folder open at fd (dst in the target,
// rel as it would be in the snapshot), if the selection covers it: a
// folder with what it holds, but for what the selection does not cover
// (excluded), which stays, and the folders holding it. A folder the
// selection does not cover but may reach into is gone through all the
// same. removed says name is gone (with DryRun, would be).
func (rs *restorer) deleteExtra(fd int, name, dst, rel string) (removed bool) {
	if rs.ctx.Err() != nil {
		return false
	}
	if rs.opt.DryRun && rs.partialDropped(dst) {
		// A temporary the real run removes before it deletes
		// anything (dropPartials): not one it reports as deleted.
		return true
	}
	if rs.leftOutByPattern(rel) {
		// The ingest's own excludes left it out (*.log, node_modules):
		// never backed up, so not the snapshot's to delete.
		return false
	}
	var st unix.Stat_t
	if err := fstatat(fd, name, &st); err != nil {
		if err == unix.ENOENT {
			return true
		}
		rs.warn(dst, fmt.Errorf("delete: %w", err))
		return false
	}
	take := rs.incl.Includes(rel)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if !take {
			return false
		}
		return rs.unlink(fd, name, dst, 0)
	}
	if !take && !rs.incl.MayContain(rel) {
		return false
	}
	if fsmeta.MountRootAt(fd, name) {
		// Another filesystem (a USB disk on /mnt/usb, with --target /):
		// the snapshot never held what is on it.
		rs.warn(dst, fmt.Errorf("delete: %w", ErrMountPoint))
		return false
	}
	cfd, err := openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		rs.warn(dst, fmt.Errorf("delete: %w", &os.PathError{Op: "open", Path: dst, Err: err}))
		return false
	}
	if take && rs.flags && !rs.opt.DryRun {
		// An immutable or append-only folder keeps what is in it.
		if err := fsmeta.ClearBlockingFlagsFd(cfd); err != nil {
			rs.warn(dst, fmt.Errorf("delete: clear immutable/append-only flags: %w", err))
		}
	}
	names, err := readNames(cfd)
	if err != nil {
		unix.Close(cfd)
		rs.warn(dst, fmt.Errorf("delete: %w", err))
		return false
	}
	all := true
	for _, c := range names {
		if !rs.deleteExtra(cfd, c, filepath.Join(dst, c), path.Join(rel, c)) {
			all = false
		}
	}
	unix.Close(cfd)
	if !take || !all {
		return false
	}
	return rs.unlink(fd, name, dst, unix.AT_REMOVEDIR)
}

// ErrMountPoint is the error for a folder the restore would delete or
// replace where another filesystem is mounted: what is on it is left.
// errors.Is tells it whatever the words (errMountReplaced, errMountBelow).
var ErrMountPoint error = mountPointError("another filesystem is mounted here: not deleted, nor anything on it")

// errMountReplaced: a folder in the way of a node of the snapshot that
// is no folder is a mount point. Not "deleted": no --delete may be given.
var errMountReplaced error = mountPointError("a directory is in the way, with another filesystem mounted on it: not replaced, nor anything on it")

// errMountBelow: a folder in the way holds a mount point deeper down.
var errMountBelow error = mountPointError("a directory is in the way, with another filesystem mounted below it: not replaced, nor anything on it")

// mountPointError is one of the errors above, each told in its own
// words: errMountBelow used to end in ErrMountPoint's, saying both
// "mounted below it" and "mounted here: not deleted" of one folder.
type mountPointError string

func (e mountPointError) Error() string        { return string(e) }
func (e mountPointError) Is(target error) bool { return target == ErrMountPoint }

// unlink removes name from the folder open at fd (with DryRun, does not),
// and counts and reports it.
func (rs *restorer) unlink(fd int, name, dst string, flags int) bool {
	if !rs.opt.DryRun {
		var err error
		for {
			if err = unix.Unlinkat(fd, name, flags); err != unix.EINTR {
				break
			}
		}
		if err == unix.EPERM && rs.flags && clearFlagsAt(fd, name) {
			// It was immutable or append-only.
			err = unix.Unlinkat(fd, name, flags)
		}
		if err != nil && err != unix.ENOENT {
			rs.warn(dst, fmt.Errorf("delete: %w", &os.PathError{Op: "unlink", Path: dst, Err: err}))
			return false
		}
	}
	rs.stats.deleted.Add(1)
	rs.item(dst, Deleted, 0)
	return true
}

func fstatat(fd int, name string, st *unix.Stat_t) error {
	for {
		if err := unix.Fstatat(fd, name, st, unix.AT_SYMLINK_NOFOLLOW); err != unix.EINTR {
			return err
		}
	}
}

// readNames lists the folder open at fd, but for "." and "..".
func readNames(fd int) ([]string, error) {
	buf := make([]byte, 16<<10)
	var names []string
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// replacesDirs: a folder in the way of a node of the snapshot may be
// replaced (with Delete, see dirInWay).
func (rs *restorer) replacesDirs() bool {
	return rs.opt.Overwrite == Always || rs.opt.Delete && rs.opt.Overwrite != Never
}

// dirInWay says whether the folder at dst, in the way of a node of the
// snapshot that is no folder, may be replaced: with Always, whatever it
// holds; with Delete (but Never), when the selection covers all of it,
// since Delete deletes nothing excluded.
func (rs *restorer) dirInWay(dst string) error {
	switch {
	case fsmeta.MountRoot(dst):
		return errMountReplaced
	case fsmeta.MountBelow(dst):
		return errMountBelow
	case rs.opt.Overwrite == Always:
		return nil
	case rs.replacesDirs():
		if !rs.coversAll(dst, rs.relOf(dst)) {
			return errors.New("a directory is in the way, holding paths the selection or the snapshot's own excludes leave out (kept; --overwrite always replaces it)")
		}
		return nil
	}
	return errors.New("a directory is in the way (use --overwrite always to replace it)")
}

// coversAll says whether the selection covers p (rel in the snapshot) and
// all it holds, and the snapshot's own exclude patterns (Delete) match
// none of it. What cannot be read is taken as covered: removing it
// fails and says why.
func (rs *restorer) coversAll(p, rel string) bool {
	if len(rs.opt.Include)+len(rs.opt.IInclude)+len(rs.opt.Exclude)+len(rs.opt.IExclude) == 0 &&
		len(rs.leftOut) == 0 && len(rs.leftOutI) == 0 {
		return true
	}
	if !rs.incl.Includes(rel) || rs.leftOutByPattern(rel) {
		// Excluded, by the restore or by the ingest's own patterns
		// (never backed up): Delete does not delete it.
		return false
	}
	fi, err := fsmeta.Lstat(p)
	if err != nil || !fi.IsDir() {
		return true
	}
	names, err := fsmeta.ReadDirNames(p)
	if err != nil {
		return true
	}
	for _, n := range names {
		if !rs.coversAll(filepath.Join(p, n), path.Join(rel, n)) {
			return false
		}
	}
	return true
}

// relOf is the path in the snapshot of dst, a path the restore writes.
func (rs *restorer) relOf(dst string) string {
	r, err := filepath.Rel(rs.base, dst)
	if err != nil || r == "." {
		return rs.baseRel
	}
	return path.Join(rs.baseRel, filepath.ToSlash(r))
}

// openat is openat(2), tried again when interrupted, and without
// O_NOATIME when the kernel refuses it (see noatime).
func openat(dirfd int, name string, flags int) (int, error) {
	return noatime(flags, func(flags int) (int, error) {
		for {
			fd, err := unix.Openat(dirfd, name, flags, 0)
			if err != unix.EINTR {
				return fd, err
			}
		}
	})
}

// noatime calls open with flags and, when they hold O_NOATIME and the
// kernel refuses it (EPERM: neither the file's owner nor root), again
// without it. A folder the restore gave the snapshot's atime is read
// without moving it where permitted: one whose reading moved it would
// have its metadata set again, its ctime moved, on every re-run.
func noatime(flags int, open func(flags int) (int, error)) (int, error) {
	fd, err := open(flags)
	if errors.Is(err, unix.EPERM) && flags&unix.O_NOATIME != 0 {
		fd, err = open(flags &^ unix.O_NOATIME)
	}
	return fd, err
}

// clearFlagsAt clears the immutable and append-only flags of the regular
// file or folder name in the folder open at fd, and says whether it did.
func clearFlagsAt(fd int, name string) bool {
	var st unix.Stat_t
	// Never open a device: its driver, not the filesystem, would get
	// the ioctl (and opening some has effects).
	if fstatat(fd, name, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false
	}
	cfd, err := openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(cfd)
	if unix.Fstat(cfd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false
	}
	return fsmeta.ClearBlockingFlagsFd(cfd) == nil
}

// partialDropped says dropPartials, in a dry run, noted dst as a
// temporary the real run would remove first.
func (rs *restorer) partialDropped(dst string) bool {
	rs.partialsMu.Lock()
	defer rs.partialsMu.Unlock()
	return rs.partials[dst]
}
