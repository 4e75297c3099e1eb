package repair

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
	"github.com/cairn-backup/cairn/repo/tree"
)

// RepairedTag marks the snapshots Snapshots writes.
const RepairedTag = "repaired"

// SnapshotsOptions say how to repair snapshots.
type SnapshotsOptions struct {
	// ReadData loads every data blob the snapshots need, to find damage
	// in packs whose index entries look right. Without it a data blob is
	// lost when the index lacks it or its pack is missing or too short.
	ReadData bool
	// Forget removes each original once its repaired snapshot is stored,
	// and snapshot objects nothing can be read from. An original repaired
	// before is checked again first: when it is whole again (an ingest
	// stored what it lost), it is kept and its repaired copies are removed
	// instead.
	Forget bool
}

// Lost is one path a repaired snapshot leaves out.
type Lost struct {
	Path   string // absolute, as in the snapshot
	Kind   tree.Kind
	Reason string
}

// SnapshotReport is one snapshot that lost data or cannot be read.
type SnapshotReport struct {
	ID       id.ID          // the original's
	Original *repo.Snapshot // nil when it cannot be read
	Err      error          // why it cannot be read
	// FromCache: the stored object cannot be read (Err), but this host's
	// local index keeps a copy of it (Original), which listings and
	// restores use. Repaired is that copy stored again.
	FromCache bool
	Lost      []Lost // what the repaired snapshot leaves out
	// Repaired is the new snapshot, or nil: nothing of the original
	// could be read, or it had been repaired before (RepairedBefore).
	Repaired       *repo.Snapshot
	RepairedBefore id.ID
	Forgotten      bool // the original was removed
	// Whole: the snapshot was repaired before and is whole again, every
	// blob it needs indexed and, as far as the index knows (with ReadData,
	// as read), readable. It is kept; its repaired copies, in Stale (with
	// their own repaired copies), are no longer needed.
	Whole          bool
	Stale          []id.ID
	StaleForgotten bool // the Stale copies were removed
}

// SnapshotsResult says what Snapshots did.
type SnapshotsResult struct {
	Checked int               // snapshot objects
	Reports []*SnapshotReport // those that lost data or cannot be read, oldest first
}

// rewritten is a tree without what it lost.
type rewritten struct {
	tid   id.ID
	lost  []Lost // paths relative to the tree
	files int64  // files, bytes and entries left out
	bytes int64
	nodes int64
	// all and allBytes count the files below the tree as read, kept or
	// left out, and their apparent size (what Recover describes);
	// folders whose tree cannot be read count as empty.
	all      int64
	allBytes uint64
	// cut: an entry of this tree itself was left out. The directory's
	// node is then marked incomplete (tree.Node.Incomplete): the file
	// the repository lost may still exist at the source, and restore
	// --delete must not delete it there as lacking from the snapshot.
	cut bool
}

// treeLost is a tree that cannot be read.
type treeLost struct{ reason string }

func (e *treeLost) Error() string { return e.reason }

type rewriter struct {
	ctx    context.Context
	r      *repo.Repository
	opt    SnapshotsOptions
	saver  *repo.Saver
	stored map[id.ID]repo.StoredPack
	data   map[id.ID]string // data blob -> why it is lost ("" when readable)
	trees  map[id.ID]*rewritten
	whole  map[id.ID]bool // tree -> whether it and all below it can be read
	// unindexed holds the blobs listed by the headers of stored packs no
	// index segment names, read the first time a needed blob is in no
	// index segment.
	unindexed map[id.ID][]unindexedBlob
}

// unindexedBlob is a blob in a stored pack no index segment names.
type unindexedBlob struct {
	sp repo.StoredPack
	e  pack.Entry
}

// Snapshots repairs every snapshot that lost data. Its error is for a
// repair that could not finish (a read failing for a reason other than
// damage stops it before anything is written).
func Snapshots(ctx context.Context, r *repo.Repository, opt SnapshotsOptions) (*SnapshotsResult, error) {
	// Judge the stored objects, never a local copy of them (the metadata
	// cache): a damaged copy of an intact snapshot must not get it
	// forgotten.
	ctx = backends.Uncached(ctx)
	stored, err := r.ListPacks(ctx, nil)
	if err != nil {
		return nil, err
	}
	var sids []id.ID
	sizes := map[id.ID]int64{} // as listed
	err = r.Backend().List(ctx, "snapshots/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "snapshots/"))
		if err == nil && "snapshots/"+sid.String() == fi.Name {
			sids = append(sids, sid)
			sizes[sid] = fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	res := &SnapshotsResult{Checked: len(sids)}
	var snaps []*repo.Snapshot
	repairedAs := map[id.ID][]id.ID{} // original -> its repaired copies
	damaged := map[id.ID]error{}      // stored objects read from the local index's copy
	for _, sid := range sids {
		sn, err := r.LoadListedSnapshot(ctx, sid, sizes[sid])
		if err != nil {
			if !errors.Is(err, repo.ErrDamaged) {
				return nil, err
			}
			cached, cerr := r.CachedSnapshot(sid)
			if cerr != nil || cached == nil {
				res.Reports = append(res.Reports, &SnapshotReport{ID: sid, Err: err})
				continue
			}
			damaged[sid] = err
			sn = cached
		}
		snaps = append(snaps, sn)
		// Only the copies a repair wrote: tag and rewrite name their
		// originals too.
		if sn.Original != nil && sn.HasTag(RepairedTag) {
			repairedAs[*sn.Original] = append(repairedAs[*sn.Original], sn.ID)
		}
	}
	sort.Slice(snaps, func(i, j int) bool {
		if !snaps[i].Time.Equal(snaps[j].Time) {
			return snaps[i].Time.Before(snaps[j].Time)
		}
		return snaps[i].ID.String() < snaps[j].ID.String()
	})

	w := &rewriter{ctx: ctx, r: r, opt: opt, saver: r.NewSaver(ctx, 1), stored: stored, data: map[id.ID]string{},
		trees: map[id.ID]*rewritten{}, whole: map[id.ID]bool{}}
	// A snapshot repaired before is checked again: an ingest may have
	// stored again what it lost. When it is whole, its repaired copies
	// (and theirs) are stale: it is kept and they are not repaired.
	whole := map[id.ID]bool{}
	for _, sn := range snaps {
		if _, ok := repairedAs[sn.ID]; ok {
			if damaged[sn.ID] != nil {
				// Its trees may be whole, but its object is not: the
				// copies stay what there is.
				whole[sn.ID] = false
				continue
			}
			ok, err := w.wholeTree(sn.Tree)
			if err != nil {
				return nil, err
			}
			whole[sn.ID] = ok
		}
	}
	copiesOf := func(sid id.ID) []id.ID {
		var out []id.ID
		seen := map[id.ID]bool{sid: true}
		next := []id.ID{sid}
		for len(next) > 0 {
			x := next[0]
			next = next[1:]
			for _, c := range repairedAs[x] {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
					next = append(next, c)
				}
			}
		}
		sortIDs(out)
		return out
	}
	stale := map[id.ID]bool{}
	for sid, ok := range whole {
		if ok {
			for _, c := range copiesOf(sid) {
				stale[c] = true
			}
		}
	}
	var todo []*SnapshotReport
	for _, sn := range snaps {
		if stale[sn.ID] {
			continue // reported with the whole snapshot it is a copy of
		}
		if copies, ok := repairedAs[sn.ID]; ok {
			if whole[sn.ID] {
				res.Reports = append(res.Reports, &SnapshotReport{ID: sn.ID, Original: sn, Whole: true, Stale: copiesOf(sn.ID)})
			} else {
				res.Reports = append(res.Reports, &SnapshotReport{ID: sn.ID, Original: sn, RepairedBefore: copies[len(copies)-1]})
			}
			continue
		}
		rw, err := w.tree(sn.Tree)
		var tl *treeLost
		bad := damaged[sn.ID]
		switch {
		case errors.As(err, &tl):
			res.Reports = append(res.Reports, &SnapshotReport{ID: sn.ID, Original: sn, Err: bad, FromCache: bad != nil,
				Lost: []Lost{{Path: "/", Kind: tree.KindDir, Reason: tl.reason}}})
			continue
		case err != nil:
			return nil, err
		case len(rw.lost) == 0 && bad == nil:
			continue
		}
		rep := &SnapshotReport{ID: sn.ID, Original: sn, Err: bad, FromCache: bad != nil, Repaired: repairedSnapshot(sn, rw)}
		for _, l := range rw.lost {
			l.Path = path.Join("/", l.Path)
			rep.Lost = append(rep.Lost, l)
		}
		res.Reports = append(res.Reports, rep)
		todo = append(todo, rep)
	}
	// The new trees are durable before any snapshot names them.
	if err := w.saver.Flush(); err != nil {
		return nil, fmt.Errorf("store repaired trees: %w", err)
	}
	for _, rep := range todo {
		// A hardlink group that lost names has fewer links in the
		// repaired snapshot: the mount's nlink counts what is there.
		links, err := r.LinkCounts(ctx, rep.Repaired.Tree)
		if err != nil {
			return res, fmt.Errorf("count the hardlinks of the repair of snapshot %s: %w", rep.ID.Short(), err)
		}
		rep.Repaired.Links = links
		if err := r.SaveSnapshot(ctx, rep.Repaired); err != nil {
			return res, fmt.Errorf("save the repair of snapshot %s: %w", rep.ID.Short(), err)
		}
	}
	if opt.Forget {
		for _, rep := range res.Reports {
			if rep.Whole {
				for _, sid := range rep.Stale {
					err := r.Backend().Remove(ctx, "snapshots/"+sid.String())
					if err != nil && !errors.Is(err, backends.ErrNotFound) {
						return res, fmt.Errorf("forget snapshot %s, a stale repaired copy: %w", sid.Short(), err)
					}
				}
				rep.StaleForgotten = true
				continue
			}
			if rep.Repaired != nil || !rep.RepairedBefore.IsZero() || rep.Err != nil || len(rep.Lost) > 0 {
				err := r.Backend().Remove(ctx, "snapshots/"+rep.ID.String())
				if err != nil && !errors.Is(err, backends.ErrNotFound) {
					return res, fmt.Errorf("forget snapshot %s: %w", rep.ID.Short(), err)
				}
				rep.Forgotten = true
			}
		}
	}
	// Bring the local catalogue in step with what is stored now.
	if _, err := r.Snapshots(ctx, func(error) {}); err != nil {
		return res, err
	}
	sort.SliceStable(res.Reports, func(i, j int) bool {
		a, b := res.Reports[i].Original, res.Reports[j].Original
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case !a.Time.Equal(b.Time):
			return a.Time.Before(b.Time)
		}
		return a.ID.String() < b.ID.String()
	})
	return res, nil
}

// repairedSnapshot is sn with the rewritten tree, tagged and naming sn.
func repairedSnapshot(sn *repo.Snapshot, rw *rewritten) *repo.Snapshot {
	ns := *sn
	ns.ID = id.ID{}
	ns.Tree = rw.tid
	ns.Tags = append([]string{}, sn.Tags...)
	if !sn.HasTag(RepairedTag) {
		ns.Tags = append(ns.Tags, RepairedTag)
	}
	orig := sn.ID
	ns.Original = &orig
	// The tree is no longer a translation of the snapshot it was copied
	// from: a later copy must not take its chunks over by position.
	ns.CopiedFrom = nil
	if rw.cut {
		ns.MarkRootIncomplete()
	}
	if sn.Summary != nil {
		s := *sn.Summary
		s.TotalFiles = max(0, s.TotalFiles-rw.files)
		s.TotalBytes = max(0, s.TotalBytes-rw.bytes)
		s.TotalEntries = max(0, s.TotalEntries-rw.nodes)
		ns.Summary = &s
	}
	return &ns
}

// tree rewrites one tree without what it lost; a tree that lost nothing
// keeps its ID. A tree that cannot be read is a *treeLost error.
func (w *rewriter) tree(tid id.ID) (*rewritten, error) {
	if rw := w.trees[tid]; rw != nil {
		return rw, nil
	}
	nodes, err := w.r.LoadTree(w.ctx, tid)
	if err != nil {
		if !isLoss(err) || w.ctx.Err() != nil {
			return nil, err
		}
		if err := w.needsIndex(tid, id.TreeBlob); err != nil {
			return nil, err
		}
		return nil, &treeLost{reason: err.Error()}
	}
	rw := &rewritten{tid: tid}
	kept := nodes[:0:0]
	for _, n := range nodes {
		switch n.Kind {
		case tree.KindFile:
			rw.all++
			rw.allBytes += n.Size
			reason, err := w.fileLost(n)
			if err != nil {
				return nil, err
			}
			if reason != "" {
				rw.lost = append(rw.lost, Lost{Path: n.Name, Kind: n.Kind, Reason: reason})
				rw.cut = true
				rw.files++
				rw.bytes += int64(n.Size)
				rw.nodes++
				continue
			}
		case tree.KindDir:
			if n.Subtree.IsZero() {
				break
			}
			sub, err := w.tree(n.Subtree)
			var tl *treeLost
			if errors.As(err, &tl) {
				rw.lost = append(rw.lost, Lost{Path: n.Name, Kind: n.Kind, Reason: tl.reason})
				rw.cut = true
				rw.nodes++
				continue
			}
			if err != nil {
				return nil, err
			}
			rw.all += sub.all
			rw.allBytes += sub.allBytes
			if sub.tid != n.Subtree {
				c := *n
				c.Subtree = sub.tid
				c.Incomplete = c.Incomplete || sub.cut
				n = &c
				for _, l := range sub.lost {
					l.Path = n.Name + "/" + l.Path
					rw.lost = append(rw.lost, l)
				}
				rw.files += sub.files
				rw.bytes += sub.bytes
				rw.nodes += sub.nodes
			}
		}
		kept = append(kept, n)
	}
	if len(rw.lost) > 0 {
		if rw.tid, err = w.saver.SaveTree(kept); err != nil {
			return nil, err
		}
	}
	w.trees[tid] = rw
	return rw, nil
}

// wholeTree reports whether the tree and everything below it can be read,
// as blobLost judges data. Unlike tree it writes nothing.
func (w *rewriter) wholeTree(tid id.ID) (bool, error) {
	if rw := w.trees[tid]; rw != nil {
		return len(rw.lost) == 0, nil
	}
	if ok, seen := w.whole[tid]; seen {
		return ok, nil
	}
	nodes, err := w.r.LoadTree(w.ctx, tid)
	if err != nil {
		if !isLoss(err) || w.ctx.Err() != nil {
			return false, err
		}
		if err := w.needsIndex(tid, id.TreeBlob); err != nil {
			return false, err
		}
		w.whole[tid] = false
		return false, nil
	}
	ok := true
	for _, n := range nodes {
		switch n.Kind {
		case tree.KindFile:
			reason, err := w.fileLost(n)
			if err != nil {
				return false, err
			}
			ok = reason == ""
		case tree.KindDir:
			if !n.Subtree.IsZero() {
				if ok, err = w.wholeTree(n.Subtree); err != nil {
					return false, err
				}
			}
		}
		if !ok {
			break
		}
	}
	w.whole[tid] = ok
	return ok, nil
}

// fileLost says why a file's data cannot be read, or "" when it can.
func (w *rewriter) fileLost(n *tree.Node) (string, error) {
	for _, c := range n.Content {
		if c.Hole {
			continue
		}
		reason, seen := w.data[c.ID]
		if !seen {
			var err error
			if reason, err = w.blobLost(c.ID); err != nil {
				return "", err
			}
			w.data[c.ID] = reason
		}
		if reason != "" {
			return reason, nil
		}
	}
	return "", nil
}

func (w *rewriter) blobLost(bid id.ID) (string, error) {
	loc, ok, err := w.r.LookupBlob(bid)
	if err != nil {
		return "", err
	}
	if !ok || loc.Type != id.DataBlob {
		if err := w.needsIndex(bid, id.DataBlob); err != nil {
			return "", err
		}
		return fmt.Sprintf("data blob %s is in no index segment", bid.Short()), nil
	}
	name := repo.PackName(loc.Type, loc.Pack)
	sp, ok := w.stored[loc.Pack]
	reason := ""
	switch {
	case !ok || sp.Type != loc.Type:
		reason = fmt.Sprintf("data blob %s: pack %s is missing", bid.Short(), name)
	case int64(loc.Offset)+int64(loc.Length) > sp.Size:
		reason = fmt.Sprintf("data blob %s: pack %s is truncated", bid.Short(), name)
	}
	if reason != "" {
		return reason, w.needsIndex(bid, id.DataBlob)
	}
	if w.opt.ReadData {
		if _, err := w.r.LoadBlob(w.ctx, id.DataBlob, bid, nil); err != nil {
			if !isLoss(err) || w.ctx.Err() != nil {
				return "", err
			}
			return err.Error(), nil
		}
	}
	return "", nil
}

// needsIndex returns an error when bid, a blob of type t the snapshots
// need, is in no index segment or only in packs that are missing or too
// short, yet a stored pack no segment names holds it intact (an index
// segment was lost, or an ingest interrupted): the index is what is
// incomplete, repair index adopts that pack, and a repair that left the
// blob out would throw away data that is still there.
func (w *rewriter) needsIndex(bid id.ID, t id.BlobType) error {
	where := "is in no index segment"
	if loc, ok, err := w.r.LookupBlob(bid); err != nil {
		return err
	} else if ok {
		sp, stored := w.stored[loc.Pack]
		if stored && sp.Type == loc.Type && int64(loc.Offset)+int64(loc.Length) <= sp.Size {
			return nil // its pack is there: the damage is inside it
		}
		where = fmt.Sprintf("is indexed in pack %s, which is missing or too short", repo.PackName(loc.Type, loc.Pack))
	}
	if w.unindexed == nil {
		w.unindexed = map[id.ID][]unindexedBlob{}
		var pids []id.ID
		for pid := range w.stored {
			pids = append(pids, pid)
		}
		un, err := w.r.Index().Unindexed(pids)
		if err != nil {
			return err
		}
		sortIDs(un)
		for _, pid := range un {
			sp := w.stored[pid]
			entries, err := w.r.ReadPackHeader(w.ctx, sp)
			if err != nil {
				if !isLoss(err) || w.ctx.Err() != nil {
					return err
				}
				continue // what it holds is unknown to repair index too
			}
			for _, e := range entries {
				w.unindexed[e.ID] = append(w.unindexed[e.ID], unindexedBlob{sp: sp, e: e})
			}
		}
	}
	for _, u := range w.unindexed[bid] {
		if u.e.Type != t || u.sp.Type != t {
			continue
		}
		b, err := w.r.Backend().Load(w.ctx, u.sp.Name(), int64(u.e.Offset), int64(u.e.Length))
		if err != nil {
			if errors.Is(err, backends.ErrRange) || errors.Is(err, backends.ErrNotFound) {
				continue
			}
			return fmt.Errorf("read %s: %w", u.sp.Name(), err)
		}
		if _, err := w.r.Codec().Open(nil, t, bid, b, int(u.e.RawLength)); err == nil {
			return fmt.Errorf("%s blob %s %s, yet pack %s, which no index segment names, holds it intact: run `cairn repair index` first; no snapshot was changed", t, bid.Short(), where, u.sp.Name())
		}
	}
	return nil
}

// isLoss tells damage and absence, which repair works around, from
// failures to read, which stop it.
func isLoss(err error) bool {
	return errors.Is(err, repo.ErrDamaged) || errors.Is(err, repo.ErrNotFound)
}
