package restore

// Hardlink groups: the first name of an inode is written, the others are
// linked to it once it is in place.

import (
	"errors"
	"fmt"
	"os"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// hardlink links dst to an earlier restored name of the same inode, at
// once or, while that one is being written, when it is in place.
func (rs *restorer) hardlink(n *tree.Node, dst string) bool {
	if n.Links < 2 {
		return false
	}
	key := [2]uint64{n.Dev, n.Inode}
	first, ok := rs.links[key]
	if !ok || first.failed {
		rs.links[key] = &firstName{path: dst}
		return false
	}
	// Something at dst answers to the overwrite policy as any existing
	// file does (never, or newer under if-changed: kept). A file equal
	// in size and mtime is still replaced by the link, which writes no
	// data and joins it to its group.
	if keep, _, err := rs.decide(dst, n, true); err != nil {
		rs.warn(dst, err)
		return true
	} else if keep {
		return true
	}
	if of := first.file; of != nil {
		of.mu.Lock()
		if !of.finished {
			of.links = append(of.links, dst)
			of.mu.Unlock()
			return true
		}
		of.mu.Unlock()
		rs.linkTo(of, dst)
		return true
	}
	if first.planned {
		_, err := rs.lstat(dst)
		rs.stats.links.Add(1)
		rs.item(dst, changed(err == nil), 0)
		return true
	}
	rs.link(first.path, dst, n)
	return true
}

// firstFailed records that n, the first name of its hardlink group, could
// not be begun: the group's next name is restored in its place.
func (rs *restorer) firstFailed(n *tree.Node) {
	if n.Links < 2 {
		return
	}
	if first := rs.links[[2]uint64{n.Dev, n.Inode}]; first != nil {
		first.failed = true
	}
}

// linkTo links dst to the finished of: when of is in place; not when it
// was stopped (dst is not restored either) or failed (dst fails with it).
func (rs *restorer) linkTo(of *openFile, dst string) {
	switch {
	case of.ok:
		rs.link(of.path, dst, of.node)
	case !of.stop.Load():
		rs.warn(dst, fmt.Errorf("hardlink to %s: that file could not be restored", of.path))
	}
}

// link makes dst, of the snapshot's n, a hardlink of first. Something
// already at dst (the overwrite policy let it go) is replaced by renaming
// a new link over it, so it stays until the link is there; a link of
// first already is kept, and counted as kept, as it is reported.
func (rs *restorer) link(first, dst string, n *tree.Node) {
	var err error
	if rs.opt.DryRun {
		if _, lerr := rs.lstat(dst); lerr == nil {
			err = os.ErrExist
		}
	} else {
		if rs.flags {
			// The snapshot's immutable or append-only flag, set on
			// first already, forbids new links to it (and renaming
			// one over dst): cleared meanwhile, then set again.
			// One link at a time: the worker that finished first
			// links the names met meanwhile while the walk links
			// later ones, and one's setting the flag again must not
			// come between the other's clearing and linking.
			rs.linkFlagsMu.Lock()
			defer rs.linkFlagsMu.Unlock() // after the flags are set again
			if fl, ferr := fsmeta.Flags(first, tree.KindFile); ferr == nil && fl&fsmeta.FlagsBlocking != 0 && fsmeta.ClearBlockingFlags(first) == nil {
				defer func() {
					if err := fsmeta.SetFlags(first, fl); err != nil {
						rs.warn(first, fmt.Errorf("set inode flags %s again: %w", fsmeta.FlagString(fl), err))
					}
				}()
			}
		}
		err = fsmeta.Link(first, dst)
	}
	existed := errors.Is(err, os.ErrExist)
	if existed {
		if a, aerr := fsmeta.Lstat(first); aerr == nil {
			if b, berr := rs.lstat(dst); berr == nil && os.SameFile(a, b) {
				rs.keptName(dst, n, true) // linked already
				return
			}
		}
		if rs.opt.DryRun {
			rs.stats.links.Add(1)
			rs.item(dst, Updated, 0)
			return
		}
		var tmp string
		tmp, err = withTempName(dst, func(tmp string) error { return fsmeta.Link(first, tmp) })
		if err == nil {
			err = rs.replace(tmp, dst)
			fsmeta.Remove(tmp) // when dst was a link of first already, rename left it
		}
	}
	if err != nil {
		rs.warn(dst, fmt.Errorf("hardlink to %s: %w", first, err))
		return
	}
	rs.stats.links.Add(1)
	rs.item(dst, changed(existed), 0)
}
