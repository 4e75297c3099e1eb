package ingest

// The paths given to ingest: made absolute, the missing ones left out, and
// --set-path's mapping between where files are read and where they are
// recorded.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// checkSetPath checks --set-path against the paths given: one path, and
// an absolute SetPath whose parent folder exists here (the snapshot holds
// the folders above it as they are here). It returns SetPath cleaned and
// the path given (what it leads to, when it is a symlink).
func checkSetPath(set string, paths []string) (string, string, error) {
	if len(paths) != 1 {
		return "", "", fmt.Errorf("--set-path records one path as another: give exactly one path, not %d", len(paths))
	}
	if !filepath.IsAbs(set) {
		return "", "", fmt.Errorf("--set-path %s: give an absolute path", set)
	}
	set = filepath.Clean(set)
	real := paths[0]
	fi, err := fsmeta.Lstat(real)
	if err != nil {
		return "", "", fmt.Errorf("cannot ingest %s: %w", real, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		// A link to the snapshot's folder (/snap/latest): its files
		// are to be read, not the link recorded as SetPath, which
		// would save a snapshot with no file in it (and restore SetPath
		// as a link that leads nowhere there).
		if real, err = filepath.EvalSymlinks(real); err != nil {
			return "", "", fmt.Errorf("cannot ingest %s: %w", paths[0], err)
		}
	}
	if up := filepath.Dir(set); up != set {
		if fi, err := os.Stat(up); err != nil || !fi.IsDir() {
			return "", "", fmt.Errorf("--set-path %s: the folder above it, %s, must exist on this machine (the snapshot holds it as it is here)", set, up)
		}
	}
	return set, real, nil
}

// fsPath is where the file recorded as path is read: path itself, or
// with --set-path, a path at or below SetPath moved to the path given.
func (g *ingester) fsPath(path string) string {
	switch {
	case g.setPath == "":
		return path
	case path == g.setPath:
		return g.realPath
	case g.setPath == "/":
		return strings.TrimSuffix(g.realPath, "/") + path
	case strings.HasPrefix(path, g.setPath+"/"):
		return g.realPath + path[len(g.setPath):]
	}
	return path
}

// recPath is the inverse of fsPath for paths at or below the path given.
func (g *ingester) recPath(path string) string {
	switch {
	case g.setPath == "":
		return path
	case path == g.realPath:
		return g.setPath
	case strings.HasPrefix(path, g.realPath+"/"):
		return filepath.Join(g.setPath, path[len(g.realPath):])
	}
	return path
}

// AbsPath makes a path given to ingest absolute, from the current
// folder. A path ending in . or .. names the folder itself: when the
// current folder was reached through a symlink ("cd /srv/data" with
// /srv/data a link to /data), it is the folder the link leads to, not
// the link, which would be stored alone (while "/srv/data", like restic,
// stores the link).
func AbsPath(p string) (string, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if base := filepath.Base(p); base == "." || base == ".." {
		if fi, err := os.Lstat(a); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return filepath.EvalSymlinks(a)
		}
	}
	return a, nil
}

// missingPath is a path given to ingest that could not be looked up.
type missingPath struct {
	path string
	err  error
	why  error // the lookup's own error, for when no path is there
}

// missingNamed is how many paths the error names when none is there.
const missingNamed = 10

// presentPaths leaves out of paths those that cannot be looked up (gone,
// an unmounted disk's folder, a typo), as restic skips them: the others
// are ingested, and each one left out is reported as an unreadable file
// is, so the ingest exits 3. A timer backing up /etc, /home and /srv
// saved nothing at all while /srv was missing. When every path is
// missing, the error names each of them and nothing is ingested.
func presentPaths(paths []string) ([]string, []missingPath, error) {
	var present []string
	var missing []missingPath
	for _, p := range paths {
		if _, err := fsmeta.Lstat(p); err != nil {
			why := err
			if errors.Is(err, os.ErrNotExist) {
				err = errors.New("no such file or folder")
			}
			missing = append(missing, missingPath{p, fmt.Errorf("%w; left out of the snapshot", err), why})
			continue
		}
		present = append(present, p)
	}
	if len(present) == 0 && len(missing) > 0 {
		if len(missing) == 1 {
			return nil, nil, fmt.Errorf("cannot ingest %s: %w", missing[0].path, missing[0].why)
		}
		// Name them all: with a typo in two paths, the user should not
		// find the second only after fixing the first. But not a whole
		// --files-from list of an unmounted disk in one line.
		var names []string
		for _, m := range missing[:min(len(missing), missingNamed)] {
			names = append(names, fmt.Sprintf("%s (%v)", m.path, errors.Unwrap(m.err)))
		}
		if n := len(missing) - len(names); n > 0 {
			names = append(names, fmt.Sprintf("and %d more", n))
		}
		return nil, nil, fmt.Errorf("cannot ingest %s: none of the paths given is there, nothing was saved",
			strings.Join(names, ", "))
	}
	return present, missing, nil
}

func absPaths(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, errors.New("nothing to ingest: give paths or --stdin")
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range in {
		if p == "" {
			return nil, errors.New("cannot ingest an empty path; give . for the current folder")
		}
		a, err := AbsPath(p)
		if err != nil {
			return nil, err
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out, nil
}
