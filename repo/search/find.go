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
// name, each followed by what matched inside it. Results are emitted as
// the walk reaches them, so memory stays bounded by the folders being
// walked, not by the number of matches. A non-nil error from emit stops
// Find and is returned.
func Find(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, pattern string, opt FindOptions, emit func(Result) error) error {
	m, err := newMatcher(pattern, opt.IgnoreCase)
	if err != nil {
		return err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &finder{ctx: ctx, r: r, m: m, snaps: snaps, emit: emit, lostFn: opt.Lost,
		sem: make(chan struct{}, workers), ahead: 2 * workers, loads: opt.TreesLoaded}
	// When emit or an error stops Find, the loads started ahead stop
	// too, and end before Find returns: none reads the repository after,
	// when the caller may have closed it.
	defer f.loading.Wait()
	defer cancel()

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

	// Walk every snapshot at once, path by path: at each path, the
	// snapshots that share a tree share one load of it.
	at := map[treeKey]*kidGroup{}
	var groups []*kidGroup
	for i := range snaps {
		if roots[i].IsZero() {
			continue
		}
		k := treeKey{roots[i], m.inside(start)}
		g := at[k]
		if g == nil {
			g = &kidGroup{key: k}
			at[k] = g
			groups = append(groups, g)
		}
		g.snaps = append(g.snaps, i)
	}
	for _, g := range groups {
		f.start(g)
	}
	return f.walk(prefix, groups, true)
}

// inSnapshot says which snapshot a tree could not be loaded from (a
// cancelled search needs no such detail).
func inSnapshot(ctx context.Context, sn *repo.Snapshot, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
}

// treeKey is a tree entered with some states: what matches inside it
// depends on nothing else.
type treeKey struct {
	tid id.ID
	s   states
}

// kidGroup is the snapshots (indices, ascending) that have one tree,
// entered with the same states, at one path, and the load of that tree.
type kidGroup struct {
	key   treeKey
	snaps []int
	once  sync.Once
	done  chan struct{}
	lv    *level
	err   error
}

// level is what one tree holds for the search: the entries that match or
// that lead to folders where something may match, in name order.
// partial, when set, says which entries did not decode and were left out.
type level struct {
	entries []levelEntry
	partial error
}

type levelEntry struct {
	node *tree.Node
	hit  bool
	sub  states // states inside node's tree, when descend
	down bool   // a folder whose tree is searched
}

type finder struct {
	ctx    context.Context
	r      *repo.Repository
	m      *matcher
	snaps  []*repo.Snapshot
	emit   func(Result) error
	lostFn func(path string, snaps []*repo.Snapshot, err error)
	sem    chan struct{} // slots for tree loads running at once
	ahead  int           // kid groups of a folder loaded ahead of the walk
	loads  *atomic.Int64
	// loading counts the loads started and not yet over.
	loading sync.WaitGroup
}

// start begins loading g's tree in the background, once.
func (f *finder) start(g *kidGroup) {
	g.once.Do(func() {
		g.done = make(chan struct{})
		f.loading.Add(1)
		go func() {
			defer f.loading.Done()
			defer close(g.done)
			select {
			case f.sem <- struct{}{}:
			case <-f.ctx.Done():
				g.err = f.ctx.Err()
				return
			}
			defer func() { <-f.sem }()
			g.lv, g.err = f.load(g.key)
		}()
	})
}

// load reads tree k.tid and keeps what the search needs of it.
func (f *finder) load(k treeKey) (*level, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	nodes, skipped, err := f.r.LoadTreePartial(f.ctx, k.tid)
	if err != nil {
		return nil, err
	}
	if skipped != nil && f.lostFn == nil {
		return nil, skipped
	}
	if f.loads != nil {
		f.loads.Add(1)
	}
	lv := &level{}
	if skipped != nil {
		// The folder's other entries are searched; the ones left out
		// are named at the folder itself.
		lv.partial = fmt.Errorf("%w: %w", ErrEntriesLeftOut, skipped)
	}
	for _, n := range nodes {
		ns := f.m.step(k.s, n.Name)
		e := levelEntry{node: n, hit: f.m.accepts(ns)}
		if n.Kind == tree.KindDir && !n.Subtree.IsZero() && f.m.alive(ns) {
			e.down, e.sub = true, f.m.inside(ns)
		}
		if e.hit || e.down {
			lv.entries = append(lv.entries, e)
		}
	}
	return lv, nil
}

// walk waits for the trees of groups, all at the folder at prefix, says
// which could not be read, and emits the matches inside in name order,
// recursing into folders below. root says prefix is where Find started.
func (f *finder) walk(prefix string, groups []*kidGroup, root bool) error {
	here := prefix
	if here == "" {
		here = "/"
	}
	var ok []*kidGroup
	var failed, partial []int
	var failErr, partialErr error
	type lostRoot struct {
		snap int
		err  error
	}
	var rootLost []lostRoot
	for _, g := range groups {
		<-g.done
		switch {
		case g.err != nil && (f.lostFn == nil || f.ctx.Err() != nil):
			return inSnapshot(f.ctx, f.snaps[g.snaps[0]], g.err)
		case g.err != nil && root:
			for _, i := range g.snaps {
				rootLost = append(rootLost, lostRoot{i, g.err})
			}
		case g.err != nil:
			failed = append(failed, g.snaps...)
			if failErr == nil {
				failErr = g.err
			}
		default:
			ok = append(ok, g)
			if g.lv.partial != nil {
				partial = append(partial, g.snaps...)
				if partialErr == nil {
					partialErr = g.lv.partial
				}
			}
		}
	}
	// Each snapshot's lost root on its own, in the order of the
	// snapshots, whichever share a tree.
	sort.Slice(rootLost, func(a, b int) bool { return rootLost[a].snap < rootLost[b].snap })
	for _, l := range rootLost {
		f.lostFn(here, []*repo.Snapshot{f.snaps[l.snap]}, l.err)
	}
	f.report(here, failed, failErr)
	f.report(here, partial, partialErr)

	type slot struct {
		hits []hitAt
		kids []*kidGroup
	}
	byName := map[string]*slot{}
	var names []string
	type kidKey struct {
		name string
		key  treeKey
	}
	kidAt := map[kidKey]*kidGroup{}
	for _, g := range ok {
		for _, e := range g.lv.entries {
			sl := byName[e.node.Name]
			if sl == nil {
				sl = &slot{}
				byName[e.node.Name] = sl
				names = append(names, e.node.Name)
			}
			if e.hit {
				for _, i := range g.snaps {
					sl.hits = append(sl.hits, hitAt{i, e.node})
				}
			}
			if e.down {
				kk := kidKey{e.node.Name, treeKey{e.node.Subtree, e.sub}}
				if kg := kidAt[kk]; kg != nil {
					kg.snaps = append(kg.snaps, g.snaps...)
				} else {
					kg = &kidGroup{key: kk.key, snaps: append([]int(nil), g.snaps...)}
					kidAt[kk] = kg
					sl.kids = append(sl.kids, kg)
				}
			}
		}
		// What is kept of the level is in byName now, and goes from
		// there as each name is walked: the group, held by its parent
		// folder's walk until that ends, must not keep it all.
		g.lv = nil
	}
	sort.Strings(names)
	// The kid groups in walk order, loaded a few ahead of the walk.
	var order []*kidGroup
	for _, name := range names {
		for _, g := range byName[name].kids {
			sort.Ints(g.snaps)
			order = append(order, g)
		}
	}
	kidAt = nil
	next, pos := 0, 0
	for _, name := range names {
		sl := byName[name]
		delete(byName, name)
		p := prefix + "/" + name
		if len(sl.hits) > 0 {
			sort.Slice(sl.hits, func(a, b int) bool { return sl.hits[a].snap < sl.hits[b].snap })
			res := Result{Path: p, Hits: make([]Hit, len(sl.hits))}
			for j, h := range sl.hits {
				res.Hits[j] = Hit{Snapshot: f.snaps[h.snap], Node: h.node}
			}
			if err := f.emit(res); err != nil {
				return err
			}
		}
		if len(sl.kids) == 0 {
			continue
		}
		pos += len(sl.kids)
		for ; next < len(order) && next < pos+f.ahead; next++ {
			f.start(order[next])
		}
		if err := f.walk(p, sl.kids, false); err != nil {
			return err
		}
	}
	return nil
}

// report tells Lost of the snapshots (indices) in which the folder at p
// could not be read, if any.
func (f *finder) report(p string, in []int, err error) {
	if len(in) == 0 {
		return
	}
	sort.Ints(in)
	snaps := make([]*repo.Snapshot, len(in))
	for j, i := range in {
		snaps[j] = f.snaps[i]
	}
	f.lostFn(p, snaps, err)
}

type hitAt struct {
	snap int
	node *tree.Node
}
