package restore

// What a snapshot holds, for Delete and for a user's restore: its paths,
// the folders above them (only the way down), and what its ingest's own
// exclude patterns left out.

import (
	"path"
	"strings"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/filter"
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
