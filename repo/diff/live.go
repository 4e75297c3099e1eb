package diff

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Live compares folder snapPath of sn (old) with livePath on the live
// filesystem (new). File content is not read: a file is Modified when
// its size or mtime differs from the snapshot's. Extended attributes are
// read and compared, like the other metadata, only with opt.Metadata.
// Live entries that ingest would not have taken (excluded, or beside the
// ingested paths in a folder above them) are skipped; so are those that
// cannot be read, after opt.Warn.
func Live(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, snapPath, livePath string, opt Options, emit Emit) (Summary, error) {
	o, _, err := restore.Find(ctx, r, sn, snapPath)
	if err != nil {
		return Summary{}, err
	}
	lv := &liveDiffer{differ: newDiffer(ctx, r, opt, emit), snapRoot: path.Clean("/" + snapPath)}
	if lv.excludes, err = filter.Parse(sn.Excludes); err != nil {
		return Summary{}, err
	}
	for _, p := range sn.Paths {
		lv.paths = append(lv.paths, path.Clean("/"+p))
	}
	n, err := lv.stat(livePath)
	if err != nil {
		return Summary{}, err
	}
	if o.Kind == tree.KindDir && n.Kind == tree.KindDir {
		err = lv.dirs("/", livePath, o.Subtree)
	} else {
		err = lv.pair("/"+n.Name, livePath, o, n)
	}
	return lv.sum, err
}

type liveDiffer struct {
	*differ
	snapRoot string // the compared folder's path inside the snapshot
	excludes []filter.Pattern
	paths    []string // the snapshot's ingested paths
}

func inside(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func depth(p string) int {
	p = strings.Trim(path.Clean(p), "/")
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

func (lv *liveDiffer) stat(p string) (*tree.Node, error) {
	n, err := fsmeta.Stat(p)
	if err != nil {
		return nil, err
	}
	if !lv.opt.Metadata {
		n.Xattrs = nil
	} else if n.Flags, err = fsmeta.Flags(p, n.Kind); err != nil {
		return nil, err
	}
	return n, nil
}

// warn reports an unreadable live path, or stops without opt.Warn.
func (lv *liveDiffer) warn(p string, err error) error {
	if lv.opt.Warn == nil {
		return err
	}
	lv.opt.Warn(p, err)
	return nil
}

// taken reports whether a live entry at sp (its path in the snapshot)
// is one ingest would have taken: an ingested path, or inside one and
// not excluded below it, or a folder on the way down to one.
func (lv *liveDiffer) taken(sp string) bool {
	if len(lv.paths) == 0 {
		return len(lv.excludes) == 0 || !filter.ExcludedBelow(lv.excludes, sp, 0)
	}
	given, above := -1, false
	rsp := repo.RecordedPath(sp) // as the snapshot records a name that is not UTF-8
	for _, p := range lv.paths {
		switch {
		case rsp == p:
			return true // given on the command line: never excluded
		case inside(rsp, p):
			given = max(given, depth(p))
		case inside(p, rsp):
			above = true
		}
	}
	if given >= 0 {
		return len(lv.excludes) == 0 || !filter.ExcludedBelow(lv.excludes, sp, given)
	}
	return above
}

// listing is a live folder's entries that ingest would take.
type listing struct {
	nodes []*tree.Node
	// unreadable names the entries that could not be read (and were
	// warned about): they are neither added nor removed.
	unreadable map[string]bool
}

// list reads the live folder at lp; rel is its path relative to the
// compared folders. A nil listing (with a nil error) is a folder that
// could not be read and was warned about: nothing in it is reported.
func (lv *liveDiffer) list(rel, lp string) (*listing, error) {
	if err := lv.ctx.Err(); err != nil {
		return nil, err
	}
	names, err := fsmeta.ReadDirNames(lp)
	if err != nil {
		return nil, lv.warn(lp, err)
	}
	ls := &listing{nodes: make([]*tree.Node, 0, len(names))}
	for _, name := range names {
		if !lv.taken(path.Join(lv.snapRoot, rel, name)) {
			continue
		}
		n, err := lv.stat(filepath.Join(lp, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone while we looked
		}
		if err != nil {
			if err := lv.warn(filepath.Join(lp, name), err); err != nil {
				return nil, err
			}
			if ls.unreadable == nil {
				ls.unreadable = map[string]bool{}
			}
			ls.unreadable[name] = true
			continue
		}
		n.Name = name
		ls.nodes = append(ls.nodes, n)
	}
	return ls, nil
}

// addedIn reports every entry of the live folder lp at rel as added.
func (lv *liveDiffer) addedIn(rel, lp string) error {
	ls, err := lv.list(rel, lp)
	if err != nil || ls == nil {
		return err
	}
	for _, c := range ls.nodes {
		if err := lv.added(path.Join(rel, c.Name), filepath.Join(lp, c.Name), c); err != nil {
			return err
		}
	}
	return nil
}

// dirs compares the stored folder tid with the live folder lp.
func (lv *liveDiffer) dirs(rel, lp string, tid id.ID) error {
	olds, err := lv.load(rel, tid)
	if err != nil {
		return err
	}
	ls, err := lv.list(rel, lp)
	if err != nil || ls == nil {
		return err
	}
	if !lv.opt.Metadata {
		for _, o := range olds {
			o.Xattrs, o.Flags = nil, 0
		}
	}
	return mergeNames(olds, ls.nodes, func(a, b *tree.Node) error {
		switch {
		case b == nil:
			if ls.unreadable[a.Name] {
				return nil
			}
			return lv.removed(path.Join(rel, a.Name), a)
		case a == nil:
			return lv.added(path.Join(rel, b.Name), filepath.Join(lp, b.Name), b)
		}
		return lv.pair(path.Join(rel, a.Name), filepath.Join(lp, b.Name), a, b)
	})
}

func (lv *liveDiffer) removed(rel string, o *tree.Node) error {
	lv.countRemoved(o)
	if err := lv.emit(Change{Path: rel, Kind: Removed, Old: o, SizeDelta: -int64(o.Size), ContentChanged: true}); err != nil {
		return err
	}
	if o.Kind == tree.KindDir {
		return lv.below(rel, o.Subtree, lv.removed)
	}
	return nil
}

func (lv *liveDiffer) added(rel, lp string, n *tree.Node) error {
	lv.countAdded(n)
	if err := lv.emit(Change{Path: rel, Kind: Added, New: n, SizeDelta: int64(n.Size), ContentChanged: true}); err != nil {
		return err
	}
	if n.Kind != tree.KindDir {
		return nil
	}
	return lv.addedIn(rel, lp)
}

// pair compares a stored entry o with the live entry n at lp.
func (lv *liveDiffer) pair(rel, lp string, o, n *tree.Node) error {
	delta := int64(n.Size) - int64(o.Size)
	if o.Kind != n.Kind {
		lv.typeChanged(o, n)
		if err := lv.emit(Change{Path: rel, Kind: TypeChanged, Old: o, New: n, SizeDelta: delta, ContentChanged: true}); err != nil {
			return err
		}
		if o.Kind == tree.KindDir {
			if err := lv.below(rel, o.Subtree, lv.removed); err != nil {
				return err
			}
		}
		if n.Kind == tree.KindDir {
			return lv.addedIn(rel, lp)
		}
		return nil
	}
	meta := metaChanged(o, n)
	if o.Kind == tree.KindDir {
		if lv.opt.Metadata && len(meta) > 0 {
			lv.sum.MetadataOnly++
			if err := lv.emit(Change{Path: rel, Kind: MetadataOnly, Old: o, New: n, MetaChanged: meta}); err != nil {
				return err
			}
		}
		return lv.dirs(rel, lp, o.Subtree)
	}
	changed := o.MTime != n.MTime || o.Size != n.Size
	if o.Kind != tree.KindFile {
		changed = contentChanged(o, n)
	}
	if changed {
		lv.modified(o, delta)
		return lv.emit(Change{Path: rel, Kind: Modified, Old: o, New: n, SizeDelta: delta, ContentChanged: true, MetaChanged: meta})
	}
	if lv.opt.Metadata && len(meta) > 0 {
		lv.sum.MetadataOnly++
		return lv.emit(Change{Path: rel, Kind: MetadataOnly, Old: o, New: n, MetaChanged: meta})
	}
	return nil
}
