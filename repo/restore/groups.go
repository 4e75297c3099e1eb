package restore

// A hardlink group an earlier restore left in place: a restore run again
// (or resumed after an interruption) keeps it, rather than writing its
// data again, when the existing file's names are all names of the group
// inside the target.

import (
	"os"
	"path"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// groupNames lists where the names of each hardlink group (of regular
// files, fifos, symlinks, devices or sockets) the restore takes land in
// the target, by device and inode: the walk of the restore made again over
// the snapshot's trees, without writing, the first time groupInPlace
// needs it. ok false: a tree could not be read, and no group is taken as
// it is. Walker only.
type groupNames struct {
	listed, ok bool
	paths      map[[2]uint64][]string
	// names caches the folders' listings groupInPlace read, by the
	// folder's device and inode.
	names map[[2]uint64]map[string]bool
}

// groupInPlace says whether the existing entry fi at dst, with several
// names and n's kind (and size and mtime, target or number), is n's
// hardlink group as an earlier restore left it: each of its names one of
// the group's names that this restore takes, in the target. Then it is
// the snapshot's copy as a file with one name is: setting n's metadata on it changes nothing
// outside the target, and the group's other names find it linked
// already. A file with a name elsewhere (a link planted in the target to
// a file outside it, a name the snapshot does not give it) is not.
//
// Each name is counted once, by its folder and its exact name in that
// folder's listing, so that a filesystem that ignores case (two names of
// the snapshot for one entry) cannot make fewer names look like all of
// the file's. Walker only.
func (rs *restorer) groupInPlace(dst string, fi os.FileInfo, st *syscall.Stat_t, n *tree.Node) bool {
	if n.Kind == tree.KindDir || n.Links < 2 {
		return false
	}
	g := &rs.groups
	if !g.listed {
		g.listed = true
		g.paths = map[[2]uint64][]string{}
		g.ok = rs.listGroups()
	}
	if !g.ok {
		return false
	}
	if g.names == nil {
		g.names = map[[2]uint64]map[string]bool{}
	}
	paths := g.paths[[2]uint64{n.Dev, n.Inode}]
	if uint64(len(paths)) < st.Nlink {
		return false // it has more names than the group has here
	}
	type entry struct {
		dev, ino uint64
		name     string
	}
	top, err := fsmeta.Open(rs.opt.Target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(top)
	found := map[entry]bool{}
	mine := false
	for _, p := range paths {
		dir, name := filepath.Dir(p), filepath.Base(p)
		// The file, its folder and the folder's listing are all
		// looked at through one descriptor of the folder, reached
		// from the target through no symlink: a folder of the target
		// that is a symlink to one outside it (planted before the
		// walk gets there to replace it, or anywhere when /proc is
		// missing and paths are not confined), or a folder swapped
		// between two calls, must not make a name outside the target
		// count as one of the group's in it.
		fd, err := rs.openBelowTarget(top, dir)
		if err != nil {
			continue
		}
		var ds, fs unix.Stat_t
		ok := unix.Fstat(fd, &ds) == nil &&
			unix.Fstatat(fd, name, &fs, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			uint64(fs.Dev) == uint64(st.Dev) && fs.Ino == st.Ino
		if ok {
			ok = rs.listed(fd, [2]uint64{uint64(ds.Dev), ds.Ino})[name]
		}
		unix.Close(fd)
		if !ok {
			continue
		}
		found[entry{uint64(ds.Dev), ds.Ino, name}] = true
		mine = mine || p == dst
	}
	return mine && uint64(len(found)) == st.Nlink
}

// openBelowTarget opens the folder dir, at or below the target (open at
// top), for reading, never through a symlink below the target (whether
// or not paths are confined: see fsmeta.Confine).
func (rs *restorer) openBelowTarget(top int, dir string) (int, error) {
	rel, err := filepath.Rel(rs.opt.Target, dir)
	if err != nil || !filepath.IsLocal(rel) {
		return -1, unix.EXDEV
	}
	// Without moving its atime where permitted, as dropPartials.
	return noatime(unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOATIME|unix.O_CLOEXEC, func(flags int) (int, error) {
		return fsmeta.OpenBeneath(top, rel, flags)
	})
}

// listed is the set of names in the folder open at fd, whose device and
// inode are key, read once.
func (rs *restorer) listed(fd int, key [2]uint64) map[string]bool {
	if s, ok := rs.groups.names[key]; ok {
		return s
	}
	var s map[string]bool
	if names, err := readNames(fd); err == nil {
		s = make(map[string]bool, len(names))
		for _, x := range names {
			s[x] = true
		}
	}
	rs.groups.names[key] = s
	return s
}

// listGroups fills rs.groups.paths from the snapshot's trees, taking what
// the walk takes (the patterns, the restored sub-tree); false when a tree
// cannot be read. A folder the walk would reach through a symlink above
// the snapshot's paths (followAbove) is listed at its path in the target
// as given: its group names are then not found there, and the group is
// written again, as before.
func (rs *restorer) listGroups() bool {
	root := rs.root
	if root.Kind != tree.KindDir {
		return true // one file: no other names
	}
	var walk func(tid id.ID, dst, rel string) bool
	walk = func(tid id.ID, dst, rel string) bool {
		nodes, err := rs.r.LoadTree(rs.ctx, tid)
		if err != nil {
			return false
		}
		for _, n := range nodes {
			crel := path.Join(rel, n.Name)
			take := rs.incl.Includes(crel)
			switch {
			case n.Kind == tree.KindDir && (take || rs.incl.MayContain(crel)):
				if !walk(n.Subtree, filepath.Join(dst, n.Name), crel) {
					return false
				}
			case n.Kind != tree.KindDir && n.Links > 1 && take:
				k := [2]uint64{n.Dev, n.Inode}
				rs.groups.paths[k] = append(rs.groups.paths[k], filepath.Join(dst, n.Name))
			}
		}
		return true
	}
	return walk(root.Subtree, rs.opt.Target, rs.baseRel)
}
