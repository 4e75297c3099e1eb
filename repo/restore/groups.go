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

// groupNames lists where the names of each hardlink group of regular files
// the restore takes land in the target, by device and inode: the walk of
// the restore made again over the snapshot's trees, without writing, the
// first time groupInPlace needs it. ok false: a tree could not be read,
// and no group is taken as it is. Walker only.
type groupNames struct {
	listed, ok bool
	paths      map[[2]uint64][]string
	// names caches the folders' listings groupInPlace read, by path.
	names map[string]map[string]bool
}

// groupInPlace says whether the existing regular file fi at dst, with
// several names and n's size and mtime, is n's hardlink group as an
// earlier restore left it: each of its names one of the group's names
// that this restore takes, in the target. Then it is the snapshot's copy
// as a file with one name is: setting n's metadata on it changes nothing
// outside the target, and the group's other names find it linked
// already. A file with a name elsewhere (a link planted in the target to
// a file outside it, a name the snapshot does not give it) is not.
//
// Each name is counted once, by its folder and its exact name in that
// folder's listing, so that a filesystem that ignores case (two names of
// the snapshot for one entry) cannot make fewer names look like all of
// the file's. Walker only.
func (rs *restorer) groupInPlace(dst string, fi os.FileInfo, st *syscall.Stat_t, n *tree.Node) bool {
	if n.Kind != tree.KindFile || n.Links < 2 {
		return false
	}
	g := &rs.groups
	if !g.listed {
		g.listed = true
		g.paths, g.names = map[[2]uint64][]string{}, map[string]map[string]bool{}
		g.ok = rs.listGroups()
	}
	if !g.ok {
		return false
	}
	paths := g.paths[[2]uint64{n.Dev, n.Inode}]
	if uint64(len(paths)) < st.Nlink {
		return false // it has more names than the group has here
	}
	type entry struct {
		dev, ino uint64
		name     string
	}
	found := map[entry]bool{}
	mine := false
	for _, p := range paths {
		pi, err := fsmeta.Lstat(p)
		if err != nil || !os.SameFile(fi, pi) {
			continue
		}
		dir, name := filepath.Dir(p), filepath.Base(p)
		di, err := fsmeta.Lstat(dir)
		if err != nil || !rs.listed(dir)[name] {
			continue
		}
		ds, ok := di.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		found[entry{uint64(ds.Dev), ds.Ino, name}] = true
		mine = mine || p == dst
	}
	return mine && uint64(len(found)) == st.Nlink
}

// listed is the set of names in the folder dir, read once.
func (rs *restorer) listed(dir string) map[string]bool {
	if s, ok := rs.groups.names[dir]; ok {
		return s
	}
	var s map[string]bool
	if fd, err := fsmeta.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		if names, err := readNames(fd); err == nil {
			s = make(map[string]bool, len(names))
			for _, x := range names {
				s[x] = true
			}
		}
		unix.Close(fd)
	}
	rs.groups.names[dir] = s
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
			case n.Kind == tree.KindFile && n.Links > 1 && take:
				k := [2]uint64{n.Dev, n.Inode}
				rs.groups.paths[k] = append(rs.groups.paths[k], filepath.Join(dst, n.Name))
			}
		}
		return true
	}
	return walk(root.Subtree, rs.opt.Target, rs.baseRel)
}
