package search

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// ErrEntriesLeftOut is the error Lost is told of, at the folder itself,
// when some of a folder's entries do not decode (an invalid name): the
// others are searched.
var ErrEntriesLeftOut = errors.New("entries left out")

// FindOptions tune Find.
type FindOptions struct {
	IgnoreCase bool
	// Path limits the search to what is below this folder ("" or "/":
	// everywhere). Snapshots without it are left out.
	Path string
	// Workers bounds the trees loaded at once (default GOMAXPROCS).
	Workers int
	// TreesLoaded, when set, is increased by every tree blob loaded.
	TreesLoaded *atomic.Int64
	// Lost, when set, is told of each folder whose contents cannot be
	// read (its tree is damaged or missing) with the snapshots that hold
	// it there, and the search goes on around it. Without it such a
	// folder stops the search with its error.
	Lost func(path string, snaps []*repo.Snapshot, err error)
}

// Hit is one snapshot holding a matching path, with its entry there.
// Snapshots that share a tree share its nodes: treat Node as read-only.
type Hit struct {
	Snapshot *repo.Snapshot
	Node     *tree.Node
}

// Result is one matching path and every snapshot that holds it, in the
// order of the snapshots given to Find. Entries at one path may differ
// between snapshots (compare the Hits' Nodes): Versions tells them apart.
type Result struct {
	Path string // as `cairn ls` prints it: "/home/alice/notes.txt"
	Hits []Hit
}

// Find calls emit with one Result per path in snaps whose entry matches
// pattern (see the package doc), in tree order: a folder's entries by
// name, each followed by what matched inside it. A non-nil error from
// emit stops Find and is returned.
func Find(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, pattern string, opt FindOptions, emit func(Result) error) error {
	m, err := newMatcher(pattern, opt.IgnoreCase)
	if err != nil {
		return err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	f := &finder{ctx: ctx, r: r, m: m, memo: map[memoKey]*entry{}, sem: make(chan struct{}, workers), loads: opt.TreesLoaded, lost: opt.Lost != nil}

	// Where the search starts in each snapshot, and the states there.
	comps := components(opt.Path)
	start := m.start()
	prefix := ""
	for _, c := range comps {
		start = m.step(start, c)
		prefix += "/" + c
	}
	if len(comps) > 0 && !m.alive(start) {
		return nil
	}
	roots := make([]id.ID, len(snaps))
	if len(comps) == 0 {
		for i, sn := range snaps {
			roots[i] = sn.Tree
		}
	} else {
		tc := newTreeCache(r)
		for i, sn := range snaps {
			n, err := tc.resolve(ctx, sn, comps)
			if err != nil && opt.Lost != nil && ctx.Err() == nil {
				opt.Lost(prefix, []*repo.Snapshot{sn}, err)
				continue
			}
			if err != nil {
				return inSnapshot(ctx, sn, err)
			}
			if n != nil && n.Kind == tree.KindDir {
				roots[i] = n.Subtree
			}
		}
	}

	// Match every distinct tree once, snapshots in parallel.
	sets := make([]*set, len(snaps))
	errs := make([]error, len(snaps))
	f.each(len(snaps), func(i int) {
		sets[i], errs[i] = f.get(roots[i], start)
	})
	groups := make([]group, 0, len(snaps))
	for i := range snaps {
		if errs[i] != nil && opt.Lost != nil && ctx.Err() == nil {
			root := prefix
			if root == "" {
				root = "/"
			}
			opt.Lost(root, []*repo.Snapshot{snaps[i]}, errs[i])
			continue
		}
		if errs[i] != nil {
			return inSnapshot(ctx, snaps[i], errs[i])
		}
		if sets[i] != nil {
			groups = append(groups, group{set: sets[i], snaps: []int{i}})
		}
	}
	return emitGroups(prefix, groups, snaps, emit, opt.Lost)
}

// inSnapshot says which snapshot a tree could not be loaded from (a
// cancelled search needs no such detail).
func inSnapshot(ctx context.Context, sn *repo.Snapshot, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
}

// set is what matched inside one tree: its own matching entries and the
// folders below with matches, each by name. nil means nothing matched.
// Sets are shared by every tree (and snapshot) they were computed for.
type set struct {
	here []*tree.Node
	kids []kid
	lost []lostDir // folders whose tree cannot be read (FindOptions.Lost)
}

type lostDir struct {
	name string
	err  error
}

type kid struct {
	name string
	set  *set
}

type memoKey struct {
	tid id.ID
	s   states
}

type entry struct {
	done chan struct{}
	set  *set
	err  error
}

type finder struct {
	ctx   context.Context
	r     *repo.Repository
	m     *matcher
	mu    sync.Mutex
	memo  map[memoKey]*entry
	sem   chan struct{} // slots for extra goroutines loading trees
	loads *atomic.Int64
	lost  bool // go on around trees that cannot be read
}

// each runs fn(0..n-1), in extra goroutines while slots are free and
// inline otherwise, so that waiting never needs a slot.
func (f *finder) each(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case f.sem <- struct{}{}:
			wg.Add(1)
			go func(i int) {
				defer func() { <-f.sem; wg.Done() }()
				fn(i)
			}(i)
		default:
			fn(i)
		}
	}
	wg.Wait()
}

// get returns the set for tree tid entered with states s, computing it
// once. Trees are content-addressed, so no tree is its own descendant and
// waiting for another goroutine's computation cannot deadlock.
func (f *finder) get(tid id.ID, s states) (*set, error) {
	if tid.IsZero() {
		return nil, nil
	}
	k := memoKey{tid, f.m.inside(s)}
	f.mu.Lock()
	if e, ok := f.memo[k]; ok {
		f.mu.Unlock()
		<-e.done
		return e.set, e.err
	}
	e := &entry{done: make(chan struct{})}
	f.memo[k] = e
	f.mu.Unlock()
	e.set, e.err = f.compute(tid, k.s)
	close(e.done)
	return e.set, e.err
}

func (f *finder) compute(tid id.ID, s states) (*set, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	nodes, skipped, err := f.r.LoadTreePartial(f.ctx, tid)
	if err != nil {
		return nil, err
	}
	if skipped != nil && !f.lost {
		return nil, skipped
	}
	if f.loads != nil {
		f.loads.Add(1)
	}
	out := &set{}
	if skipped != nil {
		// The folder's other entries are searched; the ones left out
		// are named at the folder itself.
		out.lost = append(out.lost, lostDir{"", fmt.Errorf("%w: %w", ErrEntriesLeftOut, skipped)})
	}
	type sub struct {
		name string
		tid  id.ID
		s    states
	}
	var subs []sub
	for _, n := range nodes {
		ns := f.m.step(s, n.Name)
		if f.m.accepts(ns) {
			out.here = append(out.here, n)
		}
		if n.Kind == tree.KindDir && !n.Subtree.IsZero() && f.m.alive(ns) {
			subs = append(subs, sub{n.Name, n.Subtree, ns})
		}
	}
	sets := make([]*set, len(subs))
	errs := make([]error, len(subs))
	f.each(len(subs), func(i int) {
		sets[i], errs[i] = f.get(subs[i].tid, subs[i].s)
	})
	for i, sb := range subs {
		if errs[i] != nil && f.lost && f.ctx.Err() == nil {
			out.lost = append(out.lost, lostDir{sb.name, errs[i]})
			continue
		}
		if errs[i] != nil {
			return nil, errs[i]
		}
		if sets[i] != nil {
			out.kids = append(out.kids, kid{sb.name, sets[i]})
		}
	}
	if len(out.here) == 0 && len(out.kids) == 0 && len(out.lost) == 0 {
		return nil, nil
	}
	return out, nil
}

// group is the snapshots (indices, ascending) that have one set at a path.
type group struct {
	set   *set
	snaps []int
}

// emitGroups merges the sets of the folder at prefix across snapshots and
// emits its matches in name order, recursing into folders below.
func emitGroups(prefix string, groups []group, snaps []*repo.Snapshot, emit func(Result) error, lost func(string, []*repo.Snapshot, error)) error {
	groups = mergeGroups(groups)
	type slot struct {
		hits []hitAt
		kids []group
		lost []int // snapshots in which the folder cannot be read
		err  error
	}
	byName := map[string]*slot{}
	var names []string
	get := func(name string) *slot {
		sl := byName[name]
		if sl == nil {
			sl = &slot{}
			byName[name] = sl
			names = append(names, name)
		}
		return sl
	}
	for _, g := range groups {
		for _, n := range g.set.here {
			sl := get(n.Name)
			for _, i := range g.snaps {
				sl.hits = append(sl.hits, hitAt{i, n})
			}
		}
		for _, k := range g.set.kids {
			sl := get(k.name)
			sl.kids = append(sl.kids, group{k.set, g.snaps})
		}
		for _, l := range g.set.lost {
			sl := get(l.name)
			sl.lost = append(sl.lost, g.snaps...)
			if sl.err == nil {
				sl.err = l.err
			}
		}
	}
	sort.Strings(names)
	for _, name := range names {
		sl := byName[name]
		p := prefix + "/" + name
		if name == "" { // the folder's own entries left out
			p = prefix
			if p == "" {
				p = "/"
			}
		}
		if len(sl.hits) > 0 {
			sort.Slice(sl.hits, func(a, b int) bool { return sl.hits[a].snap < sl.hits[b].snap })
			res := Result{Path: p, Hits: make([]Hit, len(sl.hits))}
			for j, h := range sl.hits {
				res.Hits[j] = Hit{Snapshot: snaps[h.snap], Node: h.node}
			}
			if err := emit(res); err != nil {
				return err
			}
		}
		if len(sl.lost) > 0 {
			sort.Ints(sl.lost)
			in := make([]*repo.Snapshot, len(sl.lost))
			for j, i := range sl.lost {
				in[j] = snaps[i]
			}
			lost(p, in, sl.err)
		}
		if len(sl.kids) > 0 {
			if err := emitGroups(p, sl.kids, snaps, emit, lost); err != nil {
				return err
			}
		}
	}
	return nil
}

type hitAt struct {
	snap int
	node *tree.Node
}

// mergeGroups joins the groups that share a set.
func mergeGroups(groups []group) []group {
	if len(groups) < 2 {
		return groups
	}
	at := map[*set]int{}
	var out []group
	for _, g := range groups {
		if i, ok := at[g.set]; ok {
			out[i].snaps = append(out[i].snaps, g.snaps...)
			continue
		}
		at[g.set] = len(out)
		out = append(out, group{g.set, append([]int(nil), g.snaps...)})
	}
	for _, g := range out {
		sort.Ints(g.snaps)
	}
	return out
}
