package restore

// The walk through the snapshot's trees: folders made when something in
// them is restored, and each entry handed to what restores its kind.

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// lazyDir is a directory on the way to included paths: it is created only
// when something inside it is restored, so an --include restore leaves no
// empty folders behind.
type lazyDir struct {
	parent  *lazyDir
	path    string
	made    bool
	failed  bool
	existed bool // it was there before the restore
	fresh   bool // with DryRun: it would be made, empty
	// mine: this restore made it (mkdir), so nothing was in it before:
	// an entry found there is one it restored under another name (see
	// takenHere), or one another process put there meanwhile. Else
	// folded holds the names it restored there so far, in lower case.
	mine   bool
	folded map[string]bool
	// above: it is above the snapshot's paths; kept, for one that
	// existed, what it was before the restore changed it.
	above bool
	kept  *fsmeta.DirState
	// files: the regular files of the snapshot to restore in it, while
	// it is yet to be made, for dropPartials once it is found existing.
	files []*tree.Node
}

// ensure creates d and its parents if they are not there yet.
func (rs *restorer) ensure(d *lazyDir) bool {
	if d.made {
		return true
	}
	if d.failed || !rs.ensure(d.parent) {
		return false
	}
	if _, err := fsmeta.Lstat(d.path); err == nil && rs.takenHere(d.parent, d.path) {
		d.failed = true
		rs.warn(d.path, errNameTaken)
		return false
	}
	if d.above && !rs.opt.DryRun {
		// Left as it is if it exists (see Run): what is changed to
		// restore into it is given back at the end.
		kept, err := fsmeta.SaveDirState(d.path)
		if err != nil {
			rs.warn(d.path, err)
		}
		d.kept = kept
	}
	if !d.above && rs.flags && !rs.opt.DryRun {
		// An immutable or append-only folder would refuse what the
		// restore puts in it or removes, and prepareDir's dropping its
		// default ACL: its flags are cleared first, and set to the
		// snapshot's when it is done. A file in the way is cleared so
		// that prepareDir can remove it.
		if err := fsmeta.ClearBlockingFlags(d.path); err != nil {
			rs.warn(d.path, fmt.Errorf("clear immutable/append-only flags: %w", err))
		}
	}
	existed, err := rs.prepareDir(d.path, d.parent.fresh)
	if err != nil {
		d.failed = true
		rs.warn(d.path, err)
		return false
	}
	d.made, d.existed, d.fresh = true, existed, rs.opt.DryRun && !existed
	d.mine = !existed && !rs.opt.DryRun
	if existed {
		rs.dropPartials(d.path, d.files)
	}
	d.files = nil
	rs.stats.dirs.Add(1)
	if !existed {
		rs.stats.newDirs.Add(1)
	}
	return true
}

func (rs *restorer) restoreDir(tid id.ID, dst, rel string, here *lazyDir) {
	if rs.ctx.Err() != nil {
		return
	}
	nodes, skipped, err := rs.r.LoadTreePartial(rs.ctx, tid)
	if err != nil && rs.cancelled(err) {
		return // stopped, not lost: the restore says it was interrupted
	}
	if err != nil {
		rs.warn(dst, fmt.Errorf("directory contents lost: %w", err))
		return
	}
	if skipped != nil {
		// The rest of the folder is restored; the folder counts as one
		// where something could not be, so --delete keeps what it has.
		rs.warn(dst, fmt.Errorf("entries not restored: %w", skipped))
	}
	if here != nil && !here.mine {
		// Temporaries a killed restore left here for the files to
		// restore go first (with DryRun, are noted as going); a
		// folder this restore made has none.
		var files []*tree.Node
		for _, n := range nodes {
			if n.Kind == tree.KindFile && rs.incl.Includes(path.Join(rel, n.Name)) {
				files = append(files, n)
			}
		}
		if here.made {
			rs.dropPartials(dst, files)
		} else {
			here.files = files
		}
	}
	for _, n := range nodes {
		if rs.ctx.Err() != nil {
			return
		}
		crel := path.Join(rel, n.Name)
		take := rs.incl.Includes(crel)
		if !take && !(n.Kind == tree.KindDir && rs.incl.MayContain(crel)) {
			continue
		}
		rs.restoreNode(n, filepath.Join(dst, n.Name), crel, take, here)
	}
	if here != nil {
		here.folded = nil // done with its entries: its names are not needed
		here.files = nil
	}
}

// restoreNode restores n at dst inside parent. take says n itself is
// included (not merely on the way to something included).
func (rs *restorer) restoreNode(n *tree.Node, dst, rel string, take bool, parent *lazyDir) {
	defer rs.restoredHere(parent, n.Name)
	if n.Kind == tree.KindDir {
		d := &lazyDir{parent: parent, path: dst, above: rs.above(rel)}
		if d.above && !parent.fresh {
			// A symlink there to a folder in the target is gone
			// through: its entries are restored at the real folder's
			// path, since nothing below the target is reached
			// through a symlink.
			dst = rs.followAbove(dst)
			d.path = dst
		}
		if take && !rs.ensure(d) {
			return
		}
		rs.restoreDir(n.Subtree, dst, rel, d)
		if d.made {
			// After its contents: the slice is applied in order, so
			// children's metadata is set before their parent's.
			rs.dirs = append(rs.dirs, dirMeta{d.path, n, d.existed, !take || d.above, d.above, d.kept})
		}
		return
	}
	if !rs.ensure(parent) {
		return
	}
	if rs.opt.DryRun { // else never set: link reads it from the workers
		rs.fresh = parent.fresh
	}
	rs.cur = parent
	switch n.Kind {
	case tree.KindFile:
		rs.restoreFile(n, dst)
	default:
		if rs.hardlink(n, dst) {
			return
		}
		keep, same, existed, err := rs.clearWay(dst, n)
		if err != nil {
			rs.warn(dst, err)
			rs.firstFailed(n)
			return
		}
		if keep {
			if same {
				rs.takeAsSnapshots(dst, n, rs.judged)
			} else {
				// What is kept is not the snapshot's: the
				// group's other names must not be linked to it.
				rs.firstFailed(n)
			}
			return
		}
		if !rs.opt.DryRun {
			if err := fsmeta.Create(dst, n); err != nil {
				rs.warn(dst, err)
				// Not there: the group's next name is made in its
				// place rather than linked to nothing.
				rs.firstFailed(n)
				return
			}
		}
		rs.stats.others.Add(1)
		if !rs.opt.DryRun {
			if err := fsmeta.Apply(dst, n, fsmeta.ApplyOptions{SkipOwner: rs.opt.SkipOwner, Flags: rs.keepFlags}); err != nil {
				rs.warn(dst, err)
			}
		}
		rs.item(dst, changed(existed), 0)
	}
}
