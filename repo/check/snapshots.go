package check

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/par"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/tree"
)

// listSnapshots lists the snapshot objects in storage (not the local
// catalogue, which would hide a damaged one), for loadSnapshots.
func (c *checker) listSnapshots(ctx context.Context) error {
	err := c.r.Backend().List(ctx, "snapshots/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "snapshots/"))
		if err != nil || "snapshots/"+sid.String() != fi.Name {
			c.notice(StrayObject, fi.Name, "not a snapshot name; cairn ignores it")
			return nil
		}
		c.snapshotIDs = append(c.snapshotIDs, sid)
		c.snapSizes = append(c.snapSizes, fi.Size)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	return nil
}

// loadSnapshots reads every snapshot object listSnapshots listed. One
// that is gone by now was removed meanwhile (forget runs beside check),
// and is not counted.
func (c *checker) loadSnapshots(ctx context.Context) error {
	sids := c.snapshotIDs
	gone := make([]bool, len(sids))
	c.res.Snapshots = len(sids)
	par.Each(ctx, c.opt.Workers, len(sids), func(i int) {
		name := "snapshots/" + sids[i].String()
		sn, err := c.r.LoadListedSnapshot(ctx, sids[i], c.snapSizes[i])
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, backends.ErrNotFound) || errors.Is(err, repo.ErrNotFound) {
				if _, serr := c.r.Backend().Stat(ctx, name); errors.Is(serr, backends.ErrNotFound) {
					gone[i] = true
					return
				}
			}
			if readFailure(err) {
				c.unreadable(name, "it", err)
				return
			}
			if cached, cerr := c.r.CachedSnapshot(sids[i]); cerr == nil && cached != nil {
				// Listings and restores read this copy, so the snapshot
				// is not lost: repair stores it again, and its trees
				// are checked as any other's.
				p := c.problem(name, SnapshotDamaged, name, "cannot be read: "+trimErr(err, name))
				c.mu.Lock()
				p.cached = sids[i]
				c.snapshots = append(c.snapshots, cached)
				c.mu.Unlock()
				return
			}
			c.problem(name, SnapshotDamaged, name, "cannot be read: "+trimErr(err, name))
			return
		}
		c.mu.Lock()
		c.snapshots = append(c.snapshots, sn)
		c.mu.Unlock()
	})
	for _, g := range gone {
		if g {
			c.res.Snapshots--
		}
	}
	sort.Slice(c.snapshots, func(i, j int) bool {
		a, b := c.snapshots[i], c.snapshots[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.ID.String() < b.ID.String()
	})
	return ctx.Err()
}

// treeState is what the walk learnt about one tree.
type treeState struct {
	dirty bool         // it, or something below it, lost data
	lost  []*Problem   // the tree itself cannot be loaded, because of these
	nodes []*tree.Node // kept for dirty trees, to name what they lose
}

// checkTrees walks every snapshot: each tree once, across all of them,
// to find lost data; then only the trees that lost something again, per
// snapshot, to name every path that depends on it.
func (c *checker) checkTrees(ctx context.Context) error {
	trees := map[id.ID]*treeState{}
	data := map[id.ID][]*Problem{} // data blob -> why it is lost; nil: readable
	var visit func(tid id.ID) *treeState
	visit = func(tid id.ID) *treeState {
		if st := trees[tid]; st != nil {
			return st
		}
		st := &treeState{}
		trees[tid] = st
		if ctx.Err() != nil {
			return st
		}
		nodes, lost := c.loadTree(ctx, tid)
		if nodes == nil {
			if lost != nil {
				c.treesUnread++
			}
			st.lost = lost
			st.dirty = lost != nil
			return st
		}
		for _, n := range nodes {
			switch n.Kind {
			case tree.KindFile:
				for _, ch := range n.Content {
					if ch.Hole {
						continue
					}
					probs, seen := data[ch.ID]
					if !seen {
						probs = c.unavailable(ctx, ch.ID, id.DataBlob)
						data[ch.ID] = probs
					}
					st.dirty = st.dirty || probs != nil
				}
			case tree.KindDir:
				if !n.Subtree.IsZero() && visit(n.Subtree).dirty {
					st.dirty = true
				}
			}
		}
		if st.dirty {
			st.nodes = nodes
		}
		return st
	}
	var attribute func(sn *repo.Snapshot, tid id.ID, p string)
	attribute = func(sn *repo.Snapshot, tid id.ID, p string) {
		st := trees[tid]
		if st == nil || !st.dirty {
			return
		}
		for _, pr := range st.lost {
			pr.addPath(sn, p)
		}
		for _, n := range st.nodes {
			cp := path.Join(p, n.Name)
			switch n.Kind {
			case tree.KindFile:
				for _, ch := range n.Content {
					for _, pr := range data[ch.ID] {
						pr.addPath(sn, cp)
					}
				}
			case tree.KindDir:
				attribute(sn, n.Subtree, cp)
			}
		}
	}
	for _, sn := range c.snapshots {
		if !sn.Tree.IsZero() {
			visit(sn.Tree)
		}
	}
	for _, sn := range c.snapshots {
		attribute(sn, sn.Tree, "/")
	}
	return ctx.Err()
}

// loadTree loads a tree from the first indexed copy that reads. A copy
// that fails is damage in its pack; a tree that opens but does not
// decode is a damaged tree. Without nodes, the problems say why.
func (c *checker) loadTree(ctx context.Context, tid id.ID) ([]*tree.Node, []*Problem) {
	for _, ps := range c.blobs[tid] {
		if ps.pack.Type != id.TreeBlob || !ps.readable(tid) {
			continue
		}
		b := ps.blob[tid]
		// A tree walk reads many small blobs: from the local copy of
		// the pack (the metadata cache) when it has one that opens,
		// else from storage. A pack's stored bytes are checked with
		// ReadData, which reads every pack from storage.
		var plain []byte
		err := errors.New("no copy")
		if backends.MayServeCopy(c.r.Backend(), ps.name()) {
			var stored []byte
			if stored, err = c.r.Backend().Load(c.cached, ps.name(), int64(b.Offset), int64(b.Length)); err == nil {
				plain, err = c.r.Codec().Open(nil, id.TreeBlob, tid, stored, int(b.RawLength))
			}
		}
		if err != nil {
			var stored []byte
			stored, err = c.r.Backend().Load(ctx, ps.name(), int64(b.Offset), int64(b.Length))
			if err != nil && ctx.Err() == nil && readFailure(err) {
				// Not known to be lost: what is below it goes unchecked.
				c.unreadable(ps.name(), "tree blob "+tid.Short(), err)
				continue
			}
			if err == nil {
				plain, err = c.r.Codec().Open(nil, id.TreeBlob, tid, stored, int(b.RawLength))
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			c.mu.Lock()
			if ps.bad == nil {
				ps.bad = map[id.ID]bool{}
			}
			ps.bad[tid] = true
			c.mu.Unlock()
			c.packProblem(ps, PackData, fmt.Sprintf("tree blob %s: %v", tid.Short(), err))
			continue
		}
		nodes, err := tree.Decode(plain)
		if err != nil {
			p := c.problem("tree "+tid.String(), TreeDamaged, ps.name(), fmt.Sprintf("tree blob %s is intact but does not decode: %v", tid, err))
			p.Blob = tid
			p.addLost(tid)
			return nil, []*Problem{p}
		}
		return nodes, nil
	}
	return nil, c.unavailable(ctx, tid, id.TreeBlob)
}

// unavailable returns nil when a blob of type t can be read from some
// indexed pack, else the problems that make it unreadable, each of which
// then counts it as lost.
func (c *checker) unavailable(ctx context.Context, bid id.ID, t id.BlobType) []*Problem {
	var probs []*Problem
	for _, ps := range c.blobs[bid] {
		if ps.pack.Type != t {
			continue
		}
		if ps.readable(bid) || ps.problem == nil {
			return nil
		}
		probs = append(probs, ps.problem)
	}
	if probs == nil {
		if u := c.unindexedCopy(ctx, bid, t); u != nil {
			k := PackNotIndexed
			if u.damage != "" {
				k = PackNotIndexedDamaged
			}
			probs = append(probs, c.problem(u.sp.Name(), k, u.sp.Name(), ""))
		} else {
			// One problem for all of them: its message is made at the end.
			c.missing[bid] = t
			probs = append(probs, c.problem("missing blobs", BlobMissing, "", ""))
		}
	}
	for _, p := range probs {
		p.addLost(bid)
	}
	return probs
}

// unindexedCopy returns the pack no index segment names that best holds
// bid, a blob of type t, or nil when none does: an intact one, else a
// damaged one in which bid still verifies, else a damaged one. Such a pack
// is read whole the first time (they are rare: an interrupted ingest's, or
// one `cairn repair index --read-data` left out as damaged, which a plain
// repair index would leave out again), and what is needed of it counted.
func (c *checker) unindexedCopy(ctx context.Context, bid id.ID, t id.BlobType) *unrefPack {
	var best *unrefPack
	rank := 0
	for _, u := range c.unrefBlobs[bid] {
		if u.sp.Type != t {
			continue
		}
		c.readUnref(ctx, u)
		r := 1
		switch {
		case u.damage == "":
			r = 3
		case u.read.readable(bid):
			r = 2
		}
		if r > rank {
			best, rank = u, r
		}
	}
	if best != nil && best.damage != "" {
		if rank == 2 {
			best.good++
		} else {
			best.bad++
		}
	}
	return best
}

// readUnref reads a pack no index segment names whole, once, like an
// indexed pack with ReadData. A read that fails for a reason other than
// damage leaves it counted as intact, with readErr set: repair index,
// reading it too, then reports that failure.
func (c *checker) readUnref(ctx context.Context, u *unrefPack) {
	if u.read != nil {
		return
	}
	p := index.Pack{ID: u.sp.ID, Type: u.sp.Type}
	ps := &packState{pack: p, blob: map[id.ID]index.Blob{}}
	var msgs []string
	for _, e := range u.entries {
		b := index.Blob{ID: e.ID, Type: e.Type, Pack: p.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
		ps.pack.Blobs = append(ps.pack.Blobs, b)
		ps.blob[b.ID] = b
		if e.Type != u.sp.Type || int64(e.Offset)+int64(e.Length) > u.sp.Size {
			if ps.bad == nil {
				ps.bad = map[id.ID]bool{}
			}
			ps.bad[e.ID] = true
			msgs = append(msgs, fmt.Sprintf("its header misplaces blob %s", e.ID.Short()))
		}
	}
	u.read = ps
	n, damage, err := c.readPack(ctx, ps, &window{})
	c.mu.Lock()
	c.res.PacksRead++
	c.res.BytesRead += n
	c.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			u.readErr = err
		}
		return
	}
	if damage != "" {
		msgs = append([]string{damage}, msgs...)
	}
	u.damage = strings.Join(msgs, "; ")
}

// snapshotsFix is the repair for snapshots that lose data: rewriting
// them, or, when every one of them was rewritten before and is only kept
// until forgotten, forgetting them.
func snapshotsFix(p *Problem, repairedAs map[id.ID]id.ID) Fix {
	if len(p.affected) == 0 {
		return 0
	}
	for sid := range p.affected {
		if _, ok := repairedAs[sid]; !ok {
			return FixSnapshots
		}
	}
	return FixForget
}

// finish settles messages and fixes and sorts the report.
func (c *checker) finish() {
	for _, u := range c.unref {
		name := u.sp.Name()
		if p := c.problems[name]; p != nil {
			switch {
			case u.damage != "":
				msg := fmt.Sprintf("in no index segment, and damaged (%s); snapshots need %s of it", u.damage, count(len(p.lost), "blob"))
				var what []string
				if u.bad > 0 {
					what = append(what, fmt.Sprintf("%d lost", u.bad))
				}
				if u.good > 0 {
					what = append(what, fmt.Sprintf("%d intact, which `cairn repair index` copies out", u.good))
				}
				if len(what) > 0 {
					msg += ": " + strings.Join(what, ", ")
				}
				p.addMessage(msg + "; prune removes the pack once no snapshot needs it")
			case u.readErr != nil:
				p.addMessage(fmt.Sprintf("in no index segment, yet snapshots need %s of it; reading it whole failed: %v", count(len(p.lost), "blob"), u.readErr))
			default:
				p.addMessage(fmt.Sprintf("in no index segment, yet snapshots need %s of it; it reads intact (left by an interrupted ingest)", count(len(p.lost), "blob")))
			}
			continue
		}
		msg := "in no index segment: left by an interrupted ingest or prune, or an ingest still running; prune removes it"
		switch {
		case c.segmentsDamaged > 0:
			// It may be one the damaged segments name, which snapshots
			// need: prune would not remove it, it refuses to run.
			msg = "in no index segment that can be read: perhaps named by a damaged one; `cairn repair index` indexes it again from the pack"
		case c.treesUnread > 0:
			// A lost segment named it with the trees it cannot find:
			// what they hold is not known, so it may be needed (prune
			// refuses to run without those trees).
			msg = "in no index segment: perhaps holding data of the folders whose trees cannot be read (above), which check cannot look into; `cairn repair index` indexes it again from the pack"
		}
		if u.err != nil {
			msg += "; its header cannot be read: " + trimErr(u.err, "pack "+name)
		} else {
			msg += " (" + count(len(u.entries), "blob") + ")"
		}
		c.notice(PackUnreferenced, name, msg)
	}
	if p := c.problems["missing blobs"]; p != nil {
		p.addMessage(missingMessage(c.missing))
		if len(c.missing) == 1 {
			for bid := range c.missing {
				p.Blob = bid
			}
		}
	}
	// Snapshots repair snapshots wrote name their originals, which are
	// kept until forgotten. Tag and rewrite name theirs too: only the
	// copies carrying repair's tag count.
	repairedAs := map[id.ID]id.ID{}
	loaded := map[id.ID]bool{}
	for _, sn := range c.snapshots {
		loaded[sn.ID] = true
		if sn.Original != nil && sn.HasTag(repair.RepairedTag) {
			repairedAs[*sn.Original] = sn.ID
		}
	}
	losesData := map[id.ID]bool{}
	for _, p := range c.problems {
		if p.Kind.IsError() {
			for sid := range p.affected {
				losesData[sid] = true
			}
		}
	}
	for _, p := range c.problems {
		if !p.cached.IsZero() {
			losesData[p.cached] = true // its object, if not its data
		}
	}
	for _, sn := range c.snapshots {
		if o := sn.Original; o != nil && sn.HasTag(repair.RepairedTag) && loaded[*o] && !losesData[*o] {
			c.notice(SnapshotRepairStale, "snapshots/"+sn.ID.String(),
				fmt.Sprintf("a repaired copy of snapshot %s, which is whole again; `cairn repair snapshots --forget` removes this copy", o.Short()))
		}
	}

	unrefByName := map[string]*unrefPack{}
	for _, u := range c.unref {
		unrefByName[u.sp.Name()] = u
	}
	losing := map[Kind]bool{PackMissing: true, PackDamaged: true, PackData: true, BlobMissing: true, TreeDamaged: true}
	for _, p := range c.problems {
		switch p.Kind {
		case SegmentDamaged, PackMissing, PackDamaged, PackMismatch, PackNotIndexed:
			p.Fix |= FixIndex
		case PackData:
			p.Fix |= FixIndexReadData
		case BlobMissing, TreeDamaged:
			if len(p.affected) == 0 {
				p.Fix |= FixSnapshots
			}
		case PackNotIndexedDamaged:
			if u := unrefByName[p.Object]; u != nil {
				if u.good > 0 {
					p.Fix |= FixIndex
				}
				if u.bad > 0 {
					p.Fix |= snapshotsFix(p, repairedAs)
				}
			}
		case SnapshotDamaged:
			switch copy, ok := repairedAs[p.cached]; {
			case p.cached.IsZero():
				p.Fix |= FixForget
			case ok:
				// Stored again before: only the damaged object is
				// left to remove.
				p.addMessage(fmt.Sprintf("it was stored again, from this host's local index, as snapshot %s", copy.Short()))
				p.Fix |= FixForget
			default:
				p.addMessage("this host's local index keeps a copy of it, which `cairn repair snapshots` stores again")
				p.Fix |= FixSnapshots
			}
		}
		if losing[p.Kind] && len(p.affected) > 0 {
			p.Fix |= snapshotsFix(p, repairedAs)
		}
		p.finish()
		for i := range p.Affected {
			p.Affected[i].RepairedAs = repairedAs[p.Affected[i].Snapshot.ID]
		}
		if p.Kind.IsError() {
			c.res.Problems = append(c.res.Problems, p)
		} else {
			c.res.Notices = append(c.res.Notices, p)
		}
	}
	for _, list := range [][]*Problem{c.res.Problems, c.res.Notices} {
		sort.Slice(list, func(i, j int) bool {
			a, b := list[i], list[j]
			if rank[a.Kind] != rank[b.Kind] {
				return rank[a.Kind] < rank[b.Kind]
			}
			if a.Object != b.Object {
				return a.Object < b.Object
			}
			return a.Blob.String() < b.Blob.String()
		})
	}
}

// missingMessage describes the blobs stored nowhere: the one, or how many
// of each type and the first few.
func missingMessage(missing map[id.ID]id.BlobType) string {
	if len(missing) == 1 {
		for bid, t := range missing {
			return fmt.Sprintf("%s blob %s is in no index segment and in no pack", t, bid)
		}
	}
	var ids []id.ID
	n := map[id.BlobType]int{}
	for bid, t := range missing {
		ids = append(ids, bid)
		n[t]++
	}
	sortIDs(ids)
	var what []string
	for _, t := range []id.BlobType{id.DataBlob, id.TreeBlob} {
		if n[t] > 0 {
			what = append(what, count(n[t], t.String()+" blob"))
		}
	}
	var short []string
	for i, bid := range ids {
		if i == 8 {
			short = append(short, "…")
			break
		}
		short = append(short, bid.Short())
	}
	return fmt.Sprintf("%s are in no index segment and in no pack: %s", strings.Join(what, " and "), strings.Join(short, ", "))
}
