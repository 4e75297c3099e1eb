package diff

import (
	"context"
	"fmt"
	"path"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Kind is what happened to one path.
type Kind int

// The kinds of change, in the order restic lists its markers.
const (
	Added Kind = iota + 1
	Removed
	Modified
	MetadataOnly
	TypeChanged
)

// Marker is restic's one-letter marker: "+", "-", "M", "U" or "T".
func (k Kind) Marker() string {
	switch k {
	case Added:
		return "+"
	case Removed:
		return "-"
	case Modified:
		return "M"
	case MetadataOnly:
		return "U"
	case TypeChanged:
		return "T"
	}
	return "?"
}

func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Modified:
		return "modified"
	case MetadataOnly:
		return "metadata"
	case TypeChanged:
		return "type"
	}
	return "unknown"
}

// Change is one reported difference.
type Change struct {
	// Path is slash-separated with a leading "/", relative to the
	// compared folders ("/etc/passwd" when comparing snapshot roots).
	Path string
	Kind Kind
	// Old is nil for Added, New is nil for Removed.
	Old, New *tree.Node
	// SizeDelta is the new size minus the old (a missing side counts 0).
	SizeDelta int64
	// ContentChanged: the content differs (see the package doc); true for
	// Modified, and for TypeChanged.
	ContentChanged bool
	// MetaChanged names the metadata fields that differ, of "mode",
	// "uid", "gid", "mtime" and "xattrs", for Modified and MetadataOnly.
	MetaChanged []string
}

// Summary counts the changes reported, restic style. Folders, files and
// other entries inside added or removed folders are counted one by one.
type Summary struct {
	Added, Removed, Modified, MetadataOnly, TypeChanged int

	FilesAdded, FilesRemoved, FilesChanged int
	DirsAdded, DirsRemoved                 int
	OthersAdded, OthersRemoved             int

	// AddedBytes and RemovedBytes are the sizes of the regular files
	// added or removed entirely: those reported Added or Removed (inside
	// added or removed folders too) and the file side of a TypeChanged
	// entry. GrownBytes and ShrunkBytes add up the size changes of the
	// Modified files: what the growing ones gained and the shrinking ones
	// lost. They mean the same between snapshots and against the live
	// filesystem: file sizes, not stored data (a file moved elsewhere is
	// counted removed and added).
	AddedBytes, RemovedBytes int64
	GrownBytes, ShrunkBytes  int64

	// TreesLoaded counts the tree blobs read; TreesSkipped the folders
	// not read because both sides had the same tree.
	TreesLoaded, TreesSkipped int
}

// Progress is passed to Options.Progress after every tree loaded.
type Progress struct {
	TreesLoaded, TreesSkipped int
	Path                      string // the folder being compared
}

// Options tune a comparison.
type Options struct {
	// Metadata reports entries whose content is the same but whose
	// metadata differs (MetadataOnly). Without it they are neither
	// reported nor counted.
	Metadata bool
	// Progress, when set, is called after each tree blob loaded.
	Progress func(Progress)
	// Warn, when set, is called for a live path that cannot be read,
	// and the comparison goes on without it; when nil such an error
	// stops Live. Snapshot trees that cannot be loaded always stop it.
	Warn func(path string, err error)
	// Lost, when set, is called for a folder of either snapshot whose
	// tree cannot be loaded (damaged or missing) when two snapshots or
	// trees are compared, and the comparison goes on without what is
	// inside it; when nil such a folder stops the comparison.
	Lost func(path string, err error)
}

// Emit receives changes in tree order. A non-nil error stops the
// comparison and is returned.
type Emit func(Change) error

// Trees compares two tree blobs (either may be id.Zero, an empty folder)
// with default Options.
func Trees(ctx context.Context, r *repo.Repository, oldTree, newTree id.ID, emit Emit) (Summary, error) {
	return CompareTrees(ctx, r, oldTree, newTree, Options{}, emit)
}

// CompareTrees is Trees with options.
func CompareTrees(ctx context.Context, r *repo.Repository, oldTree, newTree id.ID, opt Options, emit Emit) (Summary, error) {
	d := newDiffer(ctx, r, opt, emit)
	err := d.trees("/", oldTree, newTree)
	return d.sum, err
}

// Snapshots compares folder pathA of a with folder pathB of b ("" or "/"
// is the snapshot's root, as `cairn ls` shows it). When either path is
// not a folder the two entries themselves are compared, reported under
// "/" and the new entry's name.
func Snapshots(ctx context.Context, r *repo.Repository, a, b *repo.Snapshot, pathA, pathB string, opt Options, emit Emit) (Summary, error) {
	na, _, err := restore.Find(ctx, r, a, pathA)
	if err != nil {
		return Summary{}, err
	}
	nb, _, err := restore.Find(ctx, r, b, pathB)
	if err != nil {
		return Summary{}, err
	}
	d := newDiffer(ctx, r, opt, emit)
	if na.Kind == tree.KindDir && nb.Kind == tree.KindDir {
		err = d.trees("/", na.Subtree, nb.Subtree)
	} else {
		err = d.pair("/"+path.Base(path.Clean("/"+pathB)), na, nb)
	}
	return d.sum, err
}

type differ struct {
	ctx  context.Context
	r    *repo.Repository
	opt  Options
	emit Emit
	sum  Summary
}

func newDiffer(ctx context.Context, r *repo.Repository, opt Options, emit Emit) *differ {
	if emit == nil {
		emit = func(Change) error { return nil }
	}
	return &differ{ctx: ctx, r: r, opt: opt, emit: emit}
}

// load reads a tree blob; the zero ID is an empty folder.
func (d *differ) load(p string, tid id.ID) ([]*tree.Node, error) {
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	if tid.IsZero() {
		return nil, nil
	}
	nodes, err := d.r.LoadTree(d.ctx, tid)
	if err != nil {
		if d.ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("folder %s: %w", p, err)
	}
	d.sum.TreesLoaded++
	if d.opt.Progress != nil {
		d.opt.Progress(Progress{TreesLoaded: d.sum.TreesLoaded, TreesSkipped: d.sum.TreesSkipped, Path: p})
	}
	return nodes, nil
}

// lost reports a folder whose tree could not be loaded to opt.Lost and
// returns nil, so that the comparison goes on around it; without
// opt.Lost, or when the comparison was cancelled, it returns err.
func (d *differ) lost(p string, err error) error {
	if d.opt.Lost == nil || d.ctx.Err() != nil {
		return err
	}
	d.opt.Lost(p, err)
	return nil
}

// trees compares the folder at p whose entries are the trees o and n.
func (d *differ) trees(p string, o, n id.ID) error {
	if o == n {
		if !o.IsZero() {
			d.sum.TreesSkipped++
		}
		return nil
	}
	olds, err := d.load(p, o)
	if err != nil {
		return d.lost(p, err)
	}
	news, err := d.load(p, n)
	if err != nil {
		return d.lost(p, err)
	}
	return mergeNames(olds, news, func(a, b *tree.Node) error {
		switch {
		case b == nil:
			return d.removed(path.Join(p, a.Name), a)
		case a == nil:
			return d.added(path.Join(p, b.Name), b)
		}
		return d.pair(path.Join(p, a.Name), a, b)
	})
}

// mergeNames calls fn for every name in either sorted list, with nil for
// the side that lacks it.
func mergeNames(olds, news []*tree.Node, fn func(o, n *tree.Node) error) error {
	i, j := 0, 0
	for i < len(olds) || j < len(news) {
		var err error
		switch {
		case j == len(news) || (i < len(olds) && olds[i].Name < news[j].Name):
			err = fn(olds[i], nil)
			i++
		case i == len(olds) || news[j].Name < olds[i].Name:
			err = fn(nil, news[j])
			j++
		default:
			err = fn(olds[i], news[j])
			i++
			j++
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) added(p string, n *tree.Node) error {
	d.countAdded(n)
	if err := d.emit(Change{Path: p, Kind: Added, New: n, SizeDelta: int64(n.Size), ContentChanged: true}); err != nil {
		return err
	}
	if n.Kind == tree.KindDir {
		return d.below(p, n.Subtree, d.added)
	}
	return nil
}

func (d *differ) removed(p string, o *tree.Node) error {
	d.countRemoved(o)
	if err := d.emit(Change{Path: p, Kind: Removed, Old: o, SizeDelta: -int64(o.Size), ContentChanged: true}); err != nil {
		return err
	}
	if o.Kind == tree.KindDir {
		return d.below(p, o.Subtree, d.removed)
	}
	return nil
}

// below reports every entry inside a folder that one side lacks.
func (d *differ) below(p string, tid id.ID, fn func(string, *tree.Node) error) error {
	nodes, err := d.load(p, tid)
	if err != nil {
		return d.lost(p, err)
	}
	for _, n := range nodes {
		if err := fn(path.Join(p, n.Name), n); err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) countAdded(n *tree.Node) {
	d.sum.Added++
	switch n.Kind {
	case tree.KindFile:
		d.sum.FilesAdded++
		d.sum.AddedBytes += int64(n.Size)
	case tree.KindDir:
		d.sum.DirsAdded++
	default:
		d.sum.OthersAdded++
	}
}

func (d *differ) countRemoved(o *tree.Node) {
	d.sum.Removed++
	switch o.Kind {
	case tree.KindFile:
		d.sum.FilesRemoved++
		d.sum.RemovedBytes += int64(o.Size)
	case tree.KindDir:
		d.sum.DirsRemoved++
	default:
		d.sum.OthersRemoved++
	}
}

// typeChanged counts a TypeChanged entry: a file on either side counts
// as removed or added entirely.
func (d *differ) typeChanged(o, n *tree.Node) {
	d.sum.TypeChanged++
	if o.Kind == tree.KindFile {
		d.sum.RemovedBytes += int64(o.Size)
	}
	if n.Kind == tree.KindFile {
		d.sum.AddedBytes += int64(n.Size)
	}
}

// modified counts a Modified entry whose size changed by delta.
func (d *differ) modified(o *tree.Node, delta int64) {
	d.sum.Modified++
	if o.Kind != tree.KindFile {
		return
	}
	d.sum.FilesChanged++
	if delta > 0 {
		d.sum.GrownBytes += delta
	} else {
		d.sum.ShrunkBytes -= delta
	}
}

// pair compares the entries at p that both sides have.
func (d *differ) pair(p string, o, n *tree.Node) error {
	delta := int64(n.Size) - int64(o.Size)
	if o.Kind != n.Kind {
		d.typeChanged(o, n)
		if err := d.emit(Change{Path: p, Kind: TypeChanged, Old: o, New: n, SizeDelta: delta, ContentChanged: true}); err != nil {
			return err
		}
		if o.Kind == tree.KindDir {
			if err := d.below(p, o.Subtree, d.removed); err != nil {
				return err
			}
		}
		if n.Kind == tree.KindDir {
			return d.below(p, n.Subtree, d.added)
		}
		return nil
	}
	meta := metaChanged(o, n)
	if o.Kind == tree.KindDir {
		if d.opt.Metadata && len(meta) > 0 {
			d.sum.MetadataOnly++
			if err := d.emit(Change{Path: p, Kind: MetadataOnly, Old: o, New: n, MetaChanged: meta}); err != nil {
				return err
			}
		}
		return d.trees(p, o.Subtree, n.Subtree)
	}
	if contentChanged(o, n) {
		d.modified(o, delta)
		return d.emit(Change{Path: p, Kind: Modified, Old: o, New: n, SizeDelta: delta, ContentChanged: true, MetaChanged: meta})
	}
	if d.opt.Metadata && len(meta) > 0 {
		d.sum.MetadataOnly++
		return d.emit(Change{Path: p, Kind: MetadataOnly, Old: o, New: n, MetaChanged: meta})
	}
	return nil
}

// contentChanged compares two stored entries of the same kind.
func contentChanged(o, n *tree.Node) bool {
	switch o.Kind {
	case tree.KindFile:
		if o.Size != n.Size || len(o.Content) != len(n.Content) {
			return true
		}
		for i := range o.Content {
			if o.Content[i] != n.Content[i] {
				return true
			}
		}
		return false
	case tree.KindSymlink:
		return o.LinkTarget != n.LinkTarget
	case tree.KindCharDev, tree.KindBlockDev:
		return o.DevMajor != n.DevMajor || o.DevMinor != n.DevMinor
	}
	return false
}

// metaChanged names the metadata fields that differ.
func metaChanged(o, n *tree.Node) []string {
	var out []string
	if o.Mode != n.Mode {
		out = append(out, "mode")
	}
	if o.UID != n.UID {
		out = append(out, "uid")
	}
	if o.GID != n.GID {
		out = append(out, "gid")
	}
	if o.MTime != n.MTime {
		out = append(out, "mtime")
	}
	if !sameXattrs(o.Xattrs, n.Xattrs) {
		out = append(out, "xattrs")
	}
	if o.Flags != n.Flags {
		out = append(out, "flags")
	}
	return out
}

func sameXattrs(a, b []tree.Xattr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Value) != string(b[i].Value) {
			return false
		}
	}
	return true
}
