package prune

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// packState is what prune knows of one pack, by its object name.
type packState struct {
	name    string
	id      id.ID
	typ     id.BlobType
	listed  bool // present in storage
	size    int64
	mtime   time.Time
	indexed bool // named by an active index segment
	blobs   map[id.ID]index.Blob
	young   bool  // younger than the grace period (or of unknown age)
	used    int64 // bytes of blobs whose kept copy is here
	unused  int64
	// marked: named by a deletion mark, the oldest of them made at
	// markedAt; due: that was longer than the grace period ago.
	marked   bool
	markedAt time.Time
	due      bool
}

func (p *packState) ratio() float64 {
	if p.used+p.unused == 0 {
		return 0
	}
	return float64(p.used) / float64(p.used+p.unused)
}

// indexPack lists the pack as an index segment does, blobs by offset.
func (p *packState) indexPack() index.Pack {
	ip := index.Pack{ID: p.id, Type: p.typ, Blobs: make([]index.Blob, 0, len(p.blobs))}
	for _, b := range p.blobs {
		ip.Blobs = append(ip.Blobs, b)
	}
	sort.Slice(ip.Blobs, func(i, j int) bool { return ip.Blobs[i].Offset < ip.Blobs[j].Offset })
	return ip
}

// plan is what prune will do, decided before anything is written.
type plan struct {
	segments []id.ID // every stored segment read: all superseded by the new index
	inactive int     // of which already superseded
	packs    map[string]*packState
	kept     map[id.ID]*packState // the pack each used blob is kept in
	keep     []*packState         // listed, not deleted (indexed or not)
	repack   []*packState         // used blobs copied into new packs
	mark     []*packState         // marked for deletion by this run
	remove   []*packState         // deleted at the end: orphans, marked ones that are due
	marks    []repo.Mark          // every deletion mark read
	// dropMarks are the marks removed at the end: damaged ones, and those
	// whose packs are all gone once remove is.
	dropMarks []id.ID
	stats     Stats
}

// idle reports that the repository is already as prune would leave it.
func (p *plan) idle() bool {
	return len(p.remove) == 0 && len(p.repack) == 0 && len(p.mark) == 0 && len(p.dropMarks) == 0 && p.inactive == 0
}

// makePlan lists and reads everything prune needs, in the order that makes
// a concurrent writer's work look consistent: snapshots, then the index
// (written before them), then packs (written before the index). The
// deletion marks, written by prune alone, are read with the index.
func makePlan(ctx context.Context, r *repo.Repository, opt *Options) (*plan, error) {
	now, err := storageNow(ctx, r, opt)
	if err != nil {
		return nil, err
	}
	p := &plan{packs: map[string]*packState{}, kept: map[id.ID]*packState{}}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		return nil, refuse("read snapshots: %v; prune must read every snapshot to know what is used: %s", err, whatToRun(err, "`cairn check`, then `cairn repair snapshots`"))
	}
	if len(opt.Forgotten) > 0 {
		kept := snaps[:0:0]
		for _, sn := range snaps {
			if !opt.Forgotten[sn.ID] {
				kept = append(kept, sn)
			}
		}
		snaps = kept
	}
	if err := r.SyncIndex(ctx); err != nil {
		return nil, refuse("update the local index: %v; %s", err, whatToRun(err, "`cairn check`, then `cairn repair index`"))
	}
	if err := p.readIndex(ctx, r); err != nil {
		return nil, err
	}
	if err := p.readMarks(ctx, r, opt); err != nil {
		return nil, err
	}
	if err := p.listPacks(ctx, r, now, opt.GracePeriod); err != nil {
		return nil, err
	}
	p.stats.Snapshots = len(snaps)
	p.stats.IndexSegments = len(p.segments)
	if err := p.doubts(len(snaps), opt.AllowNoSnapshots); err != nil {
		return nil, err
	}
	used, err := usedBlobs(ctx, r, snaps)
	if err != nil {
		return nil, err
	}
	if err := p.placeUsed(used); err != nil {
		return nil, err
	}
	p.classify(opt.MaxUnused)
	return p, nil
}

// storageNow is the time prune measures ages against: this host's clock,
// or the storage's when that is behind. Packs and marks are timed by the
// storage's clock (their modification times); a host whose clock runs
// ahead would take them for older than they are, and could delete a pack
// marked minutes ago. The storage's clock is read from the modification
// time of the exclusive lock, which is at most repo.LockRefresh old: a
// few minutes' lag that only makes everything look younger.
func storageNow(ctx context.Context, r *repo.Repository, opt *Options) (time.Time, error) {
	now := r.Now()
	if opt.Lock == nil {
		return now, nil // a dry run: it deletes nothing
	}
	t, err := opt.Lock.StorageTime(ctx)
	if err != nil {
		return now, refuse("%v; make sure the storage is reachable and run prune again", err)
	}
	if !t.IsZero() && t.Before(now) {
		if d := now.Sub(t); d > repo.LockRefresh+time.Minute {
			opt.logf("this host's clock is %s ahead of the storage's: ages are measured on the storage's", d.Round(time.Second))
		}
		now = t
	}
	return now, nil
}

// readIndex reads every stored index segment and records the packs of the
// active ones.
func (p *plan) readIndex(ctx context.Context, r *repo.Repository) error {
	stored := map[id.ID]bool{}
	err := r.Backend().List(ctx, "index/", func(fi backends.Info) error {
		hex := strings.TrimPrefix(fi.Name, "index/")
		if sid, err := id.Parse(hex); err == nil && sid.String() == hex {
			stored[sid] = true
		}
		return nil
	})
	if err != nil {
		return refuse("list index segments: %v; make sure the storage is reachable and run prune again", err)
	}
	segs := map[id.ID]*repo.Segment{}
	supersedes := map[id.ID][]id.ID{}
	// In name order, not the map's: the segment a refusal names, and
	// which segment's entry of a blob listed twice is recorded, must not
	// change from one run to the next.
	for sid := range stored {
		p.segments = append(p.segments, sid)
	}
	sort.Slice(p.segments, func(i, j int) bool { return p.segments[i].String() < p.segments[j].String() })
	loaded, errs, err := r.LoadSegments(ctx, p.segments)
	if err != nil {
		return refuse("read index segments: %v; %s", err, whatToRun(err, "`cairn check`, then `cairn repair index`"))
	}
	for i, sid := range p.segments {
		if errs[i] != nil {
			return refuse("read index segment %s: %v; %s", sid.Short(), errs[i], whatToRun(errs[i], "`cairn check`, then `cairn repair index`"))
		}
		segs[sid], supersedes[sid] = loaded[i], loaded[i].Supersedes
	}
	active := repo.ActiveSegments(stored, supersedes)
	p.inactive = len(stored) - len(active)
	for _, sid := range p.segments {
		if !active[sid] {
			continue
		}
		for _, ip := range segs[sid].Packs {
			name := repo.PackName(ip.Type, ip.ID)
			pk := p.pack(name, ip.ID, ip.Type)
			pk.indexed = true
			for _, b := range ip.Blobs {
				if _, ok := pk.blobs[b.ID]; !ok {
					pk.blobs[b.ID] = b
				}
			}
		}
	}
	return nil
}

// readMarks reads the deletion marks and records which packs they name,
// since when. A damaged mark is left out, and removed by this run: the
// packs it named are marked again if they are still unused, and wait the
// grace period anew, so that dropping it only ever delays a deletion.
func (p *plan) readMarks(ctx context.Context, r *repo.Repository, opt *Options) error {
	marks, err := r.Marks(ctx)
	if errors.Is(err, repo.ErrUnsupported) {
		return refuse("%v; a newer cairn marked packs for deletion: upgrade cairn to prune", err)
	}
	if err != nil {
		return refuse("read deletion marks: %v; make sure the storage is reachable and run prune again", err)
	}
	p.marks = marks
	for _, m := range marks {
		if m.Err != nil {
			opt.logf("%v; removing it: the packs it named wait the grace period anew", m.Err)
			continue
		}
		for _, mp := range m.Packs {
			pk := p.pack(mp.Name(), mp.ID, mp.Type)
			if !pk.marked || m.Time.Before(pk.markedAt) {
				pk.markedAt = m.Time
			}
			pk.marked = true
		}
	}
	return nil
}

func (p *plan) pack(name string, pid id.ID, t id.BlobType) *packState {
	pk := p.packs[name]
	if pk == nil {
		pk = &packState{name: name, id: pid, typ: t, blobs: map[id.ID]index.Blob{}}
		p.packs[name] = pk
	}
	return pk
}

// listPacks records every pack in storage with its size and age. Objects
// whose names are not pack names are not ours and are left alone.
func (p *plan) listPacks(ctx context.Context, r *repo.Repository, now time.Time, grace time.Duration) error {
	for _, t := range []id.BlobType{id.DataBlob, id.TreeBlob} {
		err := r.Backend().List(ctx, t.String()+"/", func(fi backends.Info) error {
			pid, err := id.Parse(fi.Name[strings.LastIndexByte(fi.Name, '/')+1:])
			if err != nil || repo.PackName(t, pid) != fi.Name {
				return nil
			}
			pk := p.pack(fi.Name, pid, t)
			pk.listed, pk.size, pk.mtime = true, fi.Size, fi.ModTime
			// An unknown or future time counts as young, and a mark of
			// unknown or future time as not due.
			pk.young = fi.ModTime.IsZero() || now.Sub(fi.ModTime) < grace
			pk.due = pk.marked && !pk.markedAt.IsZero() && now.Sub(pk.markedAt) >= grace
			p.stats.Packs++
			p.stats.PackBytes += fi.Size
			return nil
		})
		if err != nil {
			return refuse("list %s packs: %v; make sure the storage is reachable and run prune again", t, err)
		}
	}
	return nil
}

// usedBlobs walks every snapshot and returns the blobs they use, each
// subtree once.
func usedBlobs(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot) (map[id.ID]bool, error) {
	used := map[id.ID]bool{}
	for _, sn := range snaps {
		if sn.Tree.IsZero() || used[sn.Tree] {
			continue
		}
		used[sn.Tree] = true
		visit := func(_ string, n *tree.Node) (bool, error) {
			switch n.Kind {
			case tree.KindDir:
				if n.Subtree.IsZero() || used[n.Subtree] {
					return false, nil
				}
				used[n.Subtree] = true
				return true, nil
			case tree.KindFile:
				for _, c := range n.Content {
					if !c.Hole {
						used[c.ID] = true
					}
				}
			}
			return false, nil
		}
		onErr := func(path string, tid id.ID, err error) error {
			if path == "" {
				path = "/"
			}
			// Damage calls for a repair; a storage that failed to
			// answer, for trying again.
			what := whatToRun(err, "`cairn check --read-data`, then `cairn repair index` or `cairn repair snapshots`")
			if errors.Is(err, repo.ErrNotFound) {
				what = "run `cairn check`, then `cairn repair index`"
			}
			return refuse("snapshot %s: tree %s of %s cannot be read: %v; %s", sn.ID.Short(), tid.Short(), path, err, what)
		}
		if err := r.Walk(ctx, sn, visit, onErr); err != nil {
			if errors.Is(err, ErrRefused) {
				return nil, err
			}
			return nil, refuse("snapshot %s: %v", sn.ID.Short(), err)
		}
	}
	return used, nil
}

// placeUsed picks, for every used blob, the one pack whose copy is kept:
// a pack not marked for deletion first, then a young pack (it stays
// anyway), then the pack with the most used bytes, then the lowest name.
// It refuses when a used blob is in no pack.
func (p *plan) placeUsed(used map[id.ID]bool) error {
	where := map[id.ID][]*packState{}
	usedAll := map[*packState]int64{}
	for _, pk := range p.packs {
		if !pk.indexed {
			continue
		}
		for bid, b := range pk.blobs {
			if used[bid] {
				where[bid] = append(where[bid], pk)
				usedAll[pk] += int64(b.Length)
			}
		}
	}
	var missing []string
	for bid := range used {
		cands := where[bid]
		if len(cands) == 0 {
			missing = append(missing, bid.String())
			continue
		}
		best := cands[0]
		for _, c := range cands[1:] {
			if better(c, best, usedAll) {
				best = c
			}
		}
		p.kept[bid] = best
		p.stats.UsedBlobs++
		p.stats.UsedBytes += int64(best.blobs[bid].Length)
	}
	if len(missing) > 0 {
		// repair index can only find them in a stored pack no segment
		// names (a pack only a deletion mark names is gone from
		// storage); with no such pack they are lost, and repair
		// snapshots is the way out (as check says).
		what := "run `cairn check`, then `cairn repair snapshots` to remove what is lost"
		for _, pk := range p.packs {
			if pk.listed && !pk.indexed {
				what = "run `cairn check`, then `cairn repair index`"
				break
			}
		}
		return refuse("%s used by snapshots but in no index segment (%s); %s", are(len(missing), "blob"), first(missing), what)
	}
	for _, pk := range p.packs {
		for bid, b := range pk.blobs {
			if p.kept[bid] == pk {
				pk.used += int64(b.Length)
			} else {
				pk.unused += int64(b.Length)
			}
		}
		if pk.indexed {
			p.stats.UnusedBytes += pk.unused
		}
	}
	return nil
}

func better(a, b *packState, usedAll map[*packState]int64) bool {
	if a.marked != b.marked {
		return !a.marked
	}
	if a.young != b.young {
		return a.young
	}
	if usedAll[a] != usedAll[b] {
		return usedAll[a] > usedAll[b]
	}
	return a.name < b.name
}

// classify sorts the listed packs into kept, marked, repacked and
// deleted. A pack is deleted only once a mark has named it for the grace
// period: the first prune to find it unneeded (or in no index segment)
// marks it, and writers stop relying on it; a later one deletes it if it
// is still unneeded, after copying out what a snapshot committed
// meanwhile uses.
func (p *plan) classify(maxUnused float64) {
	names := make([]string, 0, len(p.packs))
	for n := range p.packs {
		names = append(names, n)
	}
	sort.Strings(names)
	var partly []*packState
	var used, unused int64 // in packs that stay, young and marked ones aside
	var youngUnused int64  // in young indexed packs, which stay as they are
	st := &p.stats
	for _, n := range names {
		pk := p.packs[n]
		switch {
		case !pk.listed:
			// Indexed but missing: makePlan refused already. Or named
			// by a mark only, and deleted already.
		case pk.young:
			p.keep = append(p.keep, pk)
			if !pk.indexed || pk.unused > 0 {
				st.GracePacks++
				st.GraceBytes += pk.size
			}
			if pk.indexed && !pk.marked {
				youngUnused += pk.unused
			}
		case !pk.indexed && !pk.marked:
			// Likely left by a crash; or uploaded by a writer that
			// has yet to index it, whose lock failed.
			p.keep = append(p.keep, pk)
			p.addMark(pk)
		case !pk.indexed && pk.due:
			p.remove = append(p.remove, pk)
			st.UnreferencedPacks++
			st.UnreferencedBytes += pk.size
		case !pk.indexed:
			p.keep = append(p.keep, pk)
			st.PendingPacks++
			st.PendingBytes += pk.size
		case pk.marked:
			if pk.used > 0 {
				// A snapshot committed since the mark (by a writer
				// whose lock failed) uses it: copy that out.
				p.addRepack(pk)
			}
			if pk.due {
				p.remove = append(p.remove, pk)
				st.UnusedPacks++
				st.UnusedPackBytes += pk.size
			} else {
				p.keep = append(p.keep, pk)
				st.PendingPacks++
				st.PendingBytes += pk.size
			}
		case pk.used == 0:
			p.keep = append(p.keep, pk)
			p.addMark(pk)
		default:
			used += pk.used
			unused += pk.unused
			p.keep = append(p.keep, pk)
			if pk.unused > 0 {
				partly = append(partly, pk)
			}
		}
	}
	// Repack the least used packs until the unused bytes left are at
	// most maxUnused percent of the blob bytes in kept packs.
	sort.SliceStable(partly, func(i, j int) bool { return partly[i].ratio() < partly[j].ratio() })
	for _, pk := range partly {
		if float64(unused) <= maxUnused/100*float64(used+unused) {
			break
		}
		unused -= pk.unused
		p.addRepack(pk)
		p.addMark(pk)
	}
	// Marks whose packs are all gone once this run is done.
	removed := map[string]bool{}
	for _, pk := range p.remove {
		removed[pk.name] = true
	}
	for _, m := range p.marks {
		drop := true
		for _, mp := range m.Packs {
			if pk := p.packs[mp.Name()]; pk != nil && pk.listed && !removed[pk.name] {
				drop = false
				break
			}
		}
		if drop {
			p.dropMarks = append(p.dropMarks, m.ID)
		}
	}
	// What is left unused: in the packs judged above, and in the young
	// ones, which this run leaves alone.
	st.UnusedAfter = unused + youngUnused
	st.PacksDeleted = st.UnreferencedPacks + st.UnusedPacks
	st.BytesDeleted = st.UnreferencedBytes + st.UnusedPackBytes
	st.BytesWritten = st.RepackBlobBytes
	st.BytesFreed = st.BytesDeleted - st.BytesWritten
}

// addRepack has the used blobs kept in pk copied into new packs.
func (p *plan) addRepack(pk *packState) {
	st := &p.stats
	p.repack = append(p.repack, pk)
	st.RepackPacks++
	st.RepackPackBytes += pk.size
	for bid := range pk.blobs {
		if p.kept[bid] == pk {
			st.RepackBlobs++
			st.RepackBlobBytes += int64(pk.blobs[bid].Length)
		}
	}
}

// addMark has pk marked for deletion by this run.
func (p *plan) addMark(pk *packState) {
	p.mark = append(p.mark, pk)
	p.stats.MarkedPacks++
	p.stats.MarkedBytes += pk.size
}
