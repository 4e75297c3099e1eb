package restore

// What a snapshot holds, for Delete and for a user's restore: its paths,
// the folders above them (only the way down), and what its ingest's own
// exclude patterns left out.

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// above says rel (relative to the snapshot's root) is a folder above
// one of the snapshot's paths, not inside any: only on the way to them.
// A snapshot recording no paths holds all it has.
func (rs *restorer) above(rel string) bool {
	dir := repo.RecordedPath(path.Clean("/" + rel))
	for d := dir; ; d = path.Dir(d) {
		if rs.paths[d] {
			return false // the path itself, or inside it
		}
		if d == "/" {
			break
		}
	}
	return rs.ways[dir]
}

// leftOutByPattern says the ingest's own exclude patterns left rel
// (relative to the snapshot's root) out: matched, as the ingest matched
// them, below the snapshot path it is in.
func (rs *restorer) leftOutByPattern(rel string) bool {
	if len(rs.leftOut) == 0 && len(rs.leftOutI) == 0 {
		return false
	}
	p := path.Clean("/" + rel)
	root := -1
	for d := repo.RecordedPath(p); ; d = path.Dir(d) {
		if rs.paths[d] {
			root = depth(d)
			break
		}
		if d == "/" {
			break
		}
	}
	if root < 0 {
		return false
	}
	return filter.ExcludedBelow(rs.leftOut, p, root) ||
		len(rs.leftOutI) > 0 && filter.ExcludedBelow(rs.leftOutI, strings.ToLower(p), root)
}

// depth counts the components of a clean absolute path ("/" is 0).
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// pathSets returns the snapshot's paths as recorded, cleaned and made
// absolute (a stream's name is recorded relative), and the folders
// strictly above them.
func pathSets(paths []string) (in, ways map[string]bool) {
	in, ways = map[string]bool{}, map[string]bool{}
	for _, p := range paths {
		p = path.Clean("/" + repo.RecordedPath(p))
		in[p] = true
		for d := p; d != "/"; {
			d = path.Dir(d)
			if ways[d] {
				break // and all above it
			}
			ways[d] = true
		}
	}
	return in, ways
}

// AboveLinkReplaced begins the notice for a symlink in the target where
// the snapshot has a folder above its paths, that does not lead to a
// folder inside the target (aboveLinkOutside) or leads into another of
// the snapshot's paths (aboveLinkCrosses, see crossesPaths): it is
// replaced by a folder.
const AboveLinkReplaced = "replaced by a folder: a symlink where the snapshot has a folder above its paths"

const (
	aboveLinkOutside = ", that leads to no folder inside the target"
	aboveLinkCrosses = ", that leads into another of the snapshot's paths (following it would restore the two into one folder)"
)

// followAbove returns where the restore goes through the folder above
// the snapshot's paths at p (/home for a snapshot of /home/ann): p itself,
// unless a symlink is there (/home -> /data/home, as on the system the
// snapshot is restored to). A symlink that resolves, component by
// component as the kernel would, to a folder inside the target is
// followed, as restic and rsync -K do: the real folder is returned, and
// left as it is as p would have been. Any other (leading outside the
// target, nowhere, or to no folder) is replaced by a folder, as a restore
// never writes outside its target: said in a notice.
func (rs *restorer) followAbove(p string) string {
	fi, err := fsmeta.Lstat(p)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return p
	}
	why := aboveLinkOutside
	if real, err := evalAbs(p); err == nil && rs.realTarget != "" && within(real, rs.realTarget) {
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			// replaced: no folder inside the target
		} else if rs.crossesPaths(p, real) {
			why = aboveLinkCrosses
		} else {
			// The same folder, spelt from the target as it was given
			// and through no symlink: the restore reaches everything
			// below the target that way (fsmeta.Confine).
			in, err := filepath.Rel(rs.realTarget, real)
			if err != nil {
				return p
			}
			to := filepath.Join(filepath.Clean(rs.opt.Target), in)
			if rs.followed == nil {
				rs.followed = map[string]string{}
			}
			rs.followed[p] = to
			return to
		}
	}
	if rs.opt.Notice != nil && rs.opt.Overwrite != Never { // else kept, and an error says so
		msg := AboveLinkReplaced + why
		if to, err := os.Readlink(p); err == nil {
			msg = fmt.Sprintf("%s (it leads to %s)", msg, to)
		}
		rs.opt.Notice(p, msg)
	}
	return p
}

// evalAbs resolves the symlinks of p, made absolute first: a target
// given as a relative path (or ".") is compared with where an absolute
// symlink in it leads, and a relative symlink read from "." resolves to
// a relative path that is not below ".".
func evalAbs(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// within says the clean absolute path p is root or inside it.
func within(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// crossesPaths says that following the symlink at p (in the target) to
// real (in the target, resolved) would put one of the snapshot's paths
// below p at, inside or above another of its paths (/home -> /srv, for a
// snapshot of /home/ann and /srv): the two would be restored into one
// folder, and --delete of the one would remove what the other restored.
func (rs *restorer) crossesPaths(p, real string) bool {
	from, err1 := filepath.Rel(rs.base, p)
	to, err2 := filepath.Rel(rs.realTarget, real)
	if err1 != nil || err2 != nil || strings.HasPrefix(from, "..") || strings.HasPrefix(to, "..") {
		return true
	}
	from = repo.RecordedPath(path.Clean("/" + path.Join(rs.baseRel, filepath.ToSlash(from))))
	to = repo.RecordedPath(path.Clean("/" + path.Join(rs.baseRel, filepath.ToSlash(to))))
	for sp := range rs.paths {
		suffix, ok := strings.CutPrefix(sp, from+"/")
		if from == "/" {
			suffix, ok = strings.TrimPrefix(sp, "/"), true
		}
		if !ok {
			continue
		}
		m := path.Join(to, suffix)
		if rs.ways[m] {
			return true // above another path
		}
		for d := m; ; d = path.Dir(d) {
			if rs.paths[d] {
				return true // at or inside one
			}
			if d == "/" {
				break
			}
		}
	}
	return false
}
