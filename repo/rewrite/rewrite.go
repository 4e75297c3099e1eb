// Package rewrite removes paths from snapshots already stored, as restic's
// rewrite does: for someone who backed up a secret or a huge file by
// mistake.
//
// Paths are matched with ingest's --exclude semantics (repo/filter),
// against the absolute path each entry had when it was ingested, which is
// its path in the snapshot's tree: a snapshot taken with the patterns and
// one rewritten with them hold the same paths. As in ingest, a path the
// snapshot recorded (one given to ingest) is taken whole and never
// removed, nor are the folders above it; a pattern matching such a folder
// inside another recorded path keeps only the way down to it. A pattern
// that matches a folder removes everything in it.
//
// For each snapshot where something matches, Run stores the changed tree
// blobs (data blobs are neither read nor stored again) and, once they are
// durable, a new snapshot: the same time, host, source, paths, tags and
// root metadata, Original naming the snapshot it was rewritten from (unless
// that one already named another), no CopiedFrom (the tree is no longer
// a copy's), the tag "rewrite" unless the original is forgotten at once, the hardlink counts (Links) of the groups that lost
// names recounted, and the summary's totals recounted over the new tree.
// The original stays until it is forgotten (Options.Forget does that at
// once); its data is freed by the prune after that.
package rewrite

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Tag marks a rewritten snapshot whose original is kept.
const Tag = "rewrite"

// Options say what to remove and how.
type Options struct {
	Excludes  []string // restic-style patterns, as ingest's --exclude
	IExcludes []string // the same, matched regardless of case
	// DryRun finds what would be removed and stores nothing.
	DryRun bool
	// Forget removes each original once its rewritten snapshot is
	// stored; the new snapshot is then not tagged.
	Forget bool
	// Report, when set, is called with each snapshot's result as soon as
	// it is final (its new snapshot stored, and the original forgotten
	// with Forget), in the order the snapshots were given.
	Report func(*Result)
}

// Removed is one path a rewritten snapshot leaves out: an entry the
// patterns match, with everything in it when it is a folder.
type Removed struct {
	Path    string // absolute, as in the snapshot
	Kind    tree.Kind
	Entries int64 // entries removed: it and all below it
	Files   int64 // regular files among them
	Bytes   int64 // their size
}

// Result is what Run did to one snapshot.
type Result struct {
	Old *repo.Snapshot
	// New is the rewritten snapshot, nil when nothing matched. In a dry
	// run it is not stored and its ID is zero.
	New     *repo.Snapshot
	Removed []Removed // in tree order
	// Spared are recorded paths the patterns match: ingest takes those
	// whole, and so rewrite keeps them.
	Spared    []string
	Forgotten bool // Old was removed
}

// Totals add up what Removed says.
func (res *Result) Totals() (entries, files, bytes int64) {
	for _, rm := range res.Removed {
		entries += rm.Entries
		files += rm.Files
		bytes += rm.Bytes
	}
	return
}

// Run rewrites snaps (each once, in the order given) without what the
// patterns match. Every new tree is stored before any new snapshot, and
// each original is forgotten only after its new snapshot is stored. An
// error stops it; the results returned with it (and reported) are done,
// but for Forgotten on the last one.
func Run(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, opt Options) ([]*Result, error) {
	ex, err := filter.Parse(opt.Excludes)
	if err != nil {
		return nil, err
	}
	lower := make([]string, len(opt.IExcludes))
	for i, p := range opt.IExcludes {
		lower[i] = strings.ToLower(p)
	}
	iex, err := filter.Parse(lower)
	if err != nil {
		return nil, err
	}
	var saver *repo.Saver
	if opt.DryRun {
		saver = r.NewDryRunSaver(ctx)
	} else {
		saver = r.NewSaver(ctx, 2)
		// A rewritten tree that some other snapshot had is stored again
		// if that copy is only in a pack a prune marked for deletion.
		if err := saver.AvoidLostAndMarked(ctx); err != nil {
			return nil, err
		}
	}
	w := &walker{ctx: ctx, r: r, saver: saver, ex: ex, iex: iex, memo: map[memoKey]*memoized{}, counted: map[id.ID]*memoized{}}
	when := r.Now()
	var out []*Result
	seen := map[id.ID]bool{}
	for _, sn := range snaps {
		if seen[sn.ID] {
			continue
		}
		seen[sn.ID] = true
		res, err := w.snapshot(sn, opt, when)
		if err != nil {
			saver.Flush() // index what was stored, for the next try
			return nil, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
		}
		out = append(out, res)
	}
	// The new trees are durable before any snapshot names them.
	if err := saver.Flush(); err != nil {
		return nil, fmt.Errorf("store the rewritten trees: %w", err)
	}
	if !opt.DryRun {
		if err := saver.CheckPruned(ctx); err != nil {
			return nil, err
		}
	}
	for i, res := range out {
		if res.New != nil && !opt.DryRun {
			if err := r.SaveSnapshot(ctx, res.New); err != nil {
				return out[:i], fmt.Errorf("save the rewrite of snapshot %s: %w", res.Old.ID.Short(), err)
			}
			if opt.Forget {
				if err := r.RemoveSnapshot(ctx, res.Old.ID); err != nil {
					if opt.Report != nil {
						opt.Report(res)
					}
					return out[:i+1], fmt.Errorf("snapshot %s was rewritten as %s, but cannot be forgotten: %w",
						res.Old.ID.Short(), res.New.ID.Short(), err)
				}
				res.Forgotten = true
			}
		}
		if opt.Report != nil {
			opt.Report(res)
		}
	}
	return out, nil
}

// walker rewrites trees. The rewrite of a folder that holds no recorded
// path and no hardlink is kept across snapshots (memo): snapshots of one
// source share most of their trees.
type walker struct {
	ctx     context.Context
	r       *repo.Repository
	saver   *repo.Saver
	ex, iex []filter.Pattern
	memo    map[memoKey]*memoized
	counted map[id.ID]*memoized // removed folders without hardlinks: their totals

	// Per snapshot:
	kept      map[[2]uint64]*group // hardlink groups: names kept
	cut       map[[2]uint64]bool   // hardlink groups that lost names
	linkNodes int                  // hardlinked nodes seen, kept or removed
	removed   []Removed
	spared    []string
}

// group counts one hardlink group's names in the rewritten snapshot.
type group struct {
	names uint32
	links uint32 // the highest link count its nodes recorded
}

type memoKey struct {
	path string
	tid  id.ID
	root int
}

// memoized is a folder's rewrite: its new tree ID (the old one when
// nothing was removed), the totals of the new tree, and what it removed.
type memoized struct {
	tid                   id.ID
	entries, files, bytes int64
	removed               []Removed
	// cut: an entry of the folder itself was removed. Its node is then
	// marked incomplete (tree.Node.Incomplete), so that restore --delete
	// keeps what the rewrite took out of the snapshot, as it keeps what
	// the ingest left out: it was backed up, and may exist nowhere else.
	cut bool
}

// vpath is the part of a snapshot's tree at and above its recorded paths.
type vpath struct {
	children map[string]*vpath
	given    bool // a recorded path: ingest took it whole
}

// recorded returns the recorded paths of sn as a tree. A snapshot that
// recorded none is taken as a snapshot of "/".
func recorded(sn *repo.Snapshot) *vpath {
	root := &vpath{children: map[string]*vpath{}}
	if len(sn.Paths) == 0 {
		root.given = true
	}
	for _, p := range sn.Paths {
		// A stream records its bare name, which sits at the root.
		v := root
		for _, c := range strings.Split(strings.Trim(path.Clean("/"+repo.RecordedPath(p)), "/"), "/") {
			if c == "" {
				continue
			}
			if v.children[c] == nil {
				v.children[c] = &vpath{children: map[string]*vpath{}}
			}
			v = v.children[c]
		}
		v.given = true
	}
	return root
}

func depth(p string) int {
	return len(strings.FieldsFunc(p, func(r rune) bool { return r == '/' }))
}

func hardlinked(n *tree.Node) bool { return n.Kind != tree.KindDir && n.Links > 1 }

func (w *walker) snapshot(sn *repo.Snapshot, opt Options, when time.Time) (*Result, error) {
	w.kept, w.cut, w.linkNodes, w.removed, w.spared = map[[2]uint64]*group{}, map[[2]uint64]bool{}, 0, nil, nil
	res := &Result{Old: sn}
	if sn.Tree.IsZero() {
		return res, nil
	}
	v := recorded(sn)
	top, err := w.dir("/", sn.Tree, v, v.given, 0, false)
	if err != nil {
		return nil, err
	}
	res.Removed, res.Spared = w.removed, w.spared
	if top.tid == sn.Tree {
		return res, nil
	}
	ns := *sn
	ns.ID = id.ID{}
	ns.Tree = top.tid
	ns.Tags = slices.Clone(sn.Tags)
	if !opt.Forget && !sn.HasTag(Tag) {
		ns.Tags = append(ns.Tags, Tag)
	}
	if sn.Original == nil {
		old := sn.ID
		ns.Original = &old
	}
	// The tree is no longer a translation of the snapshot it was copied
	// from: a later copy must not take its chunks over by position.
	ns.CopiedFrom = nil
	ns.Links = w.links(sn.Links)
	if top.cut {
		ns.MarkRootIncomplete()
	}
	if sn.Summary != nil {
		s := *sn.Summary
		s.TotalEntries, s.TotalFiles, s.TotalBytes = top.entries, top.files, top.bytes
		s.Rewritten = &when
		ns.Summary = &s
	}
	res.New = &ns
	return res, nil
}

// dir rewrites the folder at p, tree tid. v holds the recorded paths at
// and below p (nil: none). full says p is inside a recorded path, root
// components deep, where entries are matched; otherwise p is a folder on
// the way down to recorded paths, and cut says the patterns excluded it
// (or a folder above it), so that only the way down stays: as ingest
// walks.
func (w *walker) dir(p string, tid id.ID, v *vpath, full bool, root int, cut bool) (*memoized, error) {
	memo := full && v == nil
	key := memoKey{p, tid, root}
	if memo {
		if m := w.memo[key]; m != nil {
			w.removed = append(w.removed, m.removed...)
			return m, nil
		}
	}
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	nodes, err := w.r.LoadTree(w.ctx, tid)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	firstRemoved, linksBefore := len(w.removed), w.linkNodes
	out := &memoized{tid: tid}
	kept := make([]*tree.Node, 0, len(nodes))
	changed := false
	for _, n := range nodes {
		cp := path.Join(p, n.Name)
		var cv *vpath
		if v != nil {
			// Recorded paths hold a name that is not UTF-8 as the
			// snapshot's JSON does (repo.RecordedPath).
			cv = v.children[repo.RecordedPath(n.Name)]
		}
		given := cv != nil && cv.given
		inFull, croot := full, root
		if !full && cv == nil {
			if !cut {
				// Outside every recorded path, which an ingest never
				// leaves (a snapshot whose paths do not describe its
				// tree): matched as if its folder had been given.
				inFull, croot = true, depth(p)
			}
		}
		exclude := !full && cv == nil && cut
		childCut := false
		if inFull && !given && w.excluded(cp, croot) {
			if cv == nil {
				exclude = true
			} else {
				childCut = true // keep the way down to the recorded paths below
			}
		}
		if exclude {
			if err := w.remove(cp, n); err != nil {
				return nil, err
			}
			changed, out.cut = true, true
			continue
		}
		if given && w.matchesItself(cp) {
			w.spared = append(w.spared, cp)
		}
		if n.Kind == tree.KindDir && !n.Subtree.IsZero() {
			var sub *memoized
			switch {
			case given:
				sub, err = w.dir(cp, n.Subtree, cv, true, depth(cp), false)
			case childCut:
				sub, err = w.dir(cp, n.Subtree, cv, false, 0, true)
			case inFull:
				sub, err = w.dir(cp, n.Subtree, cv, true, croot, false)
			default:
				sub, err = w.dir(cp, n.Subtree, cv, false, 0, cut)
			}
			if err != nil {
				return nil, err
			}
			if sub.tid != n.Subtree {
				c := *n
				c.Subtree = sub.tid
				c.Incomplete = c.Incomplete || sub.cut
				n = &c
				changed = true
			}
			out.addBelow(sub)
		}
		out.addNode(n)
		if hardlinked(n) {
			w.linkNodes++
			k := [2]uint64{n.Dev, n.Inode}
			g := w.kept[k]
			if g == nil {
				g = &group{}
				w.kept[k] = g
			}
			g.names++
			g.links = max(g.links, n.Links)
		}
		kept = append(kept, n)
	}
	if changed {
		if out.tid, err = w.saver.SaveTree(kept); err != nil {
			return nil, fmt.Errorf("save the tree of %s: %w", p, err)
		}
	}
	if memo && w.linkNodes == linksBefore {
		out.removed = slices.Clone(w.removed[firstRemoved:])
		w.memo[key] = out
	}
	return out, nil
}

// addNode counts n itself: an entry, and a file with its bytes.
func (m *memoized) addNode(n *tree.Node) {
	m.entries++
	if n.Kind == tree.KindFile {
		m.files++
		m.bytes += int64(n.Size)
	}
}

// addBelow counts what a folder's tree holds, as sub tallied it.
func (m *memoized) addBelow(sub *memoized) {
	m.entries += sub.entries
	m.files += sub.files
	m.bytes += sub.bytes
}

// excluded reports whether the patterns exclude p, inside a recorded path
// root components deep, as ingest judges it.
func (w *walker) excluded(p string, root int) bool {
	return filter.ExcludedBelow(w.ex, p, root) ||
		len(w.iex) > 0 && filter.ExcludedBelow(w.iex, strings.ToLower(p), root)
}

// matchesItself reports whether the patterns match p itself (not only a
// folder above it).
func (w *walker) matchesItself(p string) bool {
	return w.excluded(p, depth(p)-1)
}

// remove notes n, at p, as removed, with everything below it.
func (w *walker) remove(p string, n *tree.Node) error {
	var c memoized
	if n.Kind == tree.KindDir && !n.Subtree.IsZero() {
		sub, err := w.count(p, n.Subtree)
		if err != nil {
			return err
		}
		c.addBelow(sub)
	}
	c.addNode(n)
	rm := Removed{Path: p, Kind: n.Kind, Entries: c.entries, Files: c.files, Bytes: c.bytes}
	if hardlinked(n) {
		w.linkNodes++
		w.cut[[2]uint64{n.Dev, n.Inode}] = true
	}
	w.removed = append(w.removed, rm)
	return nil
}

// count adds up the entries, files and bytes below a removed folder, and
// notes the hardlink groups that lose names with it.
func (w *walker) count(p string, tid id.ID) (*memoized, error) {
	if c := w.counted[tid]; c != nil {
		return c, nil
	}
	if err := w.ctx.Err(); err != nil {
		return nil, err
	}
	nodes, err := w.r.LoadTree(w.ctx, tid)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	linksBefore := w.linkNodes
	c := &memoized{tid: tid}
	for _, n := range nodes {
		if n.Kind == tree.KindDir && !n.Subtree.IsZero() {
			sub, err := w.count(path.Join(p, n.Name), n.Subtree)
			if err != nil {
				return nil, err
			}
			c.addBelow(sub)
		}
		c.addNode(n)
		if hardlinked(n) {
			w.linkNodes++
			w.cut[[2]uint64{n.Dev, n.Inode}] = true
		}
	}
	if w.linkNodes == linksBefore {
		w.counted[tid] = c
	}
	return c, nil
}

// links is the snapshot's Links after the rewrite: the groups that lost no
// name keep their entry; the others are counted again and listed when
// other than their link count remain, as ingest lists them.
func (w *walker) links(old []repo.LinkCount) []repo.LinkCount {
	var out []repo.LinkCount
	for _, l := range old {
		if !w.cut[[2]uint64{l.Dev, l.Inode}] {
			out = append(out, l)
		}
	}
	for k := range w.cut {
		if g := w.kept[k]; g != nil && g.names != g.links {
			out = append(out, repo.LinkCount{Dev: k[0], Inode: k[1], Count: g.names})
		}
	}
	repo.SortLinkCounts(out)
	return out
}
