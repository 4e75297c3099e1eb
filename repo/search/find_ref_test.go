package search

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A generated folder: files by size, folders, folders whose tree is
// missing, and entries whose name does not decode.
type genDir struct {
	files   map[string]uint64
	dirs    map[string]*genDir
	missing map[string]id.ID
	bad     bool
}

func (d *genDir) clone() *genDir {
	c := &genDir{files: map[string]uint64{}, dirs: map[string]*genDir{}, missing: map[string]id.ID{}, bad: d.bad}
	for k, v := range d.files {
		c.files[k] = v
	}
	for k, v := range d.dirs {
		c.dirs[k] = v // shared until changed: copy on write
	}
	for k, v := range d.missing {
		c.missing[k] = v
	}
	return c
}

var genNames = []string{"a", "a-b", "a.txt", "b", "B.TXT", "c.go", "d", "x\xff\xfe", "x\xffz.go", "é.txt", "zz", "a b"}

func genTree(rng *rand.Rand, depth int) *genDir {
	d := &genDir{files: map[string]uint64{}, dirs: map[string]*genDir{}, missing: map[string]id.ID{}}
	for i, n := 0, rng.Intn(6); i < n; i++ {
		d.files[genNames[rng.Intn(len(genNames))]] = uint64(rng.Intn(5))
	}
	if depth > 0 {
		for i, n := 0, 1+rng.Intn(3); i < n; i++ {
			name := genNames[rng.Intn(len(genNames))]
			if _, ok := d.files[name]; !ok {
				d.dirs[name] = genTree(rng, depth-1)
			}
		}
	}
	return d
}

// mutate changes a few things on one path down from d, copying what it
// changes, and returns the new folder.
func mutate(rng *rand.Rand, d *genDir, depth int) *genDir {
	c := d.clone()
	var names []string
	for k := range c.dirs {
		names = append(names, k)
	}
	sort.Strings(names)
	switch op := rng.Intn(8); {
	case op < 2 || len(names) == 0:
		name := genNames[rng.Intn(len(genNames))]
		if _, ok := c.dirs[name]; !ok {
			if _, ok := c.missing[name]; !ok {
				c.files[name] = uint64(rng.Intn(9))
			}
		}
	case op == 2:
		delete(c.dirs, names[rng.Intn(len(names))])
	case op == 3: // a folder moved: the same tree at another path
		from := names[rng.Intn(len(names))]
		to := genNames[rng.Intn(len(genNames))] + "2"
		c.dirs[to] = c.dirs[from]
		delete(c.dirs, from)
	case op == 4 && depth > 0: // a folder whose tree is lost
		var tid id.ID
		rng.Read(tid[:])
		c.missing[genNames[rng.Intn(len(genNames))]+"-lost"] = tid
	case op == 5:
		c.bad = !c.bad
	default:
		n := names[rng.Intn(len(names))]
		c.dirs[n] = mutate(rng, c.dirs[n], depth+1)
	}
	return c
}

func saveGen(t *testing.T, r *repo.Repository, s *repo.Saver, d *genDir, memo map[*genDir]id.ID) id.ID {
	if tid, ok := memo[d]; ok {
		return tid
	}
	var nodes []*tree.Node
	for k, v := range d.files {
		n := &tree.Node{Name: k, Kind: tree.KindFile, Mode: 0o644, Size: v, MTime: int64(v)}
		if v > 0 {
			n.Content = []tree.Chunk{{Hole: true, Size: v}}
		}
		nodes = append(nodes, n)
	}
	for k, v := range d.dirs {
		nodes = append(nodes, &tree.Node{Name: k, Kind: tree.KindDir, Mode: 0o755, Subtree: saveGen(t, r, s, v, memo)})
	}
	for k, v := range d.missing {
		nodes = append(nodes, &tree.Node{Name: k, Kind: tree.KindDir, Mode: 0o755, Subtree: v})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	var tid id.ID
	if d.bad {
		nodes = append(nodes, &tree.Node{Name: "bad/name", Kind: tree.KindFile, Mode: 0o644})
		tid = r.TestCraftTree(t, nodes)
	} else {
		var err error
		if tid, err = s.SaveTree(nodes); err != nil {
			t.Fatal(err)
		}
	}
	memo[d] = tid
	return tid
}

// genRepo saves n snapshots of a generated tree that changes a little
// from one to the next.
func genRepo(t *testing.T, seed int64, n int) (*repo.Repository, []*repo.Snapshot) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	rng := rand.New(rand.NewSource(seed))
	s := r.NewSaver(ctx, 1)
	memo := map[*genDir]id.ID{}
	d := genTree(rng, 4)
	var snaps []*repo.Snapshot
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		for j, k := 0, 1+rng.Intn(3); j < k; j++ {
			d = mutate(rng, d, 0)
		}
		root := saveGen(t, r, s, d, memo)
		if rng.Intn(10) == 0 { // a snapshot whose root tree is lost
			rng.Read(root[:])
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		sn := &repo.Snapshot{Time: t0.Add(time.Duration(i) * time.Hour), Tree: root, Paths: []string{"/"}, Host: "h", Source: "s"}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, sn)
	}
	return r, snaps
}

// A reference event: a Result or a Lost call, rendered.
type refEvent struct {
	path  string
	kind  int // 0 match, 1 folder lost, 2 entries left out
	snaps []int
	sizes []uint64
}

func (e refEvent) String() string {
	return fmt.Sprintf("%d %q %v %v", e.kind, e.path, e.snaps, e.sizes)
}

// refFind is Find done the straightforward way: every snapshot walked on
// its own, every tree loaded wherever it appears, the events merged and
// sorted at the end.
func refFind(t *testing.T, r *repo.Repository, snaps []*repo.Snapshot, pattern string, fold bool) []refEvent {
	ctx := context.Background()
	m, err := newMatcher(pattern, fold)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		path string
		kind int
	}
	at := map[key]*refEvent{}
	var roots []refEvent
	add := func(p string, kind, snap int, size uint64) {
		e := at[key{p, kind}]
		if e == nil {
			e = &refEvent{path: p, kind: kind}
			at[key{p, kind}] = e
		}
		e.snaps = append(e.snaps, snap)
		if kind == 0 {
			e.sizes = append(e.sizes, size)
		}
	}
	var walk func(i int, tid id.ID, p string, s states)
	walk = func(i int, tid id.ID, p string, s states) {
		nodes, skipped, err := r.LoadTreePartial(ctx, tid)
		here := p
		if here == "" {
			here = "/"
		}
		if err != nil {
			if p == "" {
				roots = append(roots, refEvent{path: here, kind: 1, snaps: []int{i}})
			} else {
				add(here, 1, i, 0)
			}
			return
		}
		if skipped != nil {
			add(here, 2, i, 0)
		}
		for _, n := range nodes {
			ns := m.step(s, n.Name)
			if m.accepts(ns) {
				add(p+"/"+n.Name, 0, i, n.Size)
			}
			if n.Kind == tree.KindDir && !n.Subtree.IsZero() && m.alive(ns) {
				walk(i, n.Subtree, p+"/"+n.Name, ns)
			}
		}
	}
	for i, sn := range snaps {
		walk(i, sn.Tree, "", m.start())
	}
	var out []refEvent
	for _, e := range at {
		out = append(out, *e)
	}
	// Tree order: component by component, a folder's own match, then
	// what is lost of it, then what is inside it.
	sort.Slice(out, func(a, b int) bool {
		ca, cb := strings.Split(out[a].path, "/"), strings.Split(out[b].path, "/")
		for k := 0; k < len(ca) && k < len(cb); k++ {
			if ca[k] != cb[k] {
				return ca[k] < cb[k]
			}
		}
		if len(ca) != len(cb) {
			return len(ca) < len(cb)
		}
		return out[a].kind < out[b].kind
	})
	return append(roots, out...)
}

// Find's events, rendered as refFind's.
func findEvents(t *testing.T, r *repo.Repository, snaps []*repo.Snapshot, pattern string, opt FindOptions) ([]refEvent, error) {
	index := map[*repo.Snapshot]int{}
	for i, sn := range snaps {
		index[sn] = i
	}
	var out []refEvent
	opt.Lost = func(p string, in []*repo.Snapshot, err error) {
		e := refEvent{path: p, kind: 1}
		if errors.Is(err, ErrEntriesLeftOut) {
			e.kind = 2
		}
		for _, sn := range in {
			e.snaps = append(e.snaps, index[sn])
		}
		out = append(out, e)
	}
	err := Find(context.Background(), r, snaps, pattern, opt, func(res Result) error {
		e := refEvent{path: res.Path}
		for _, h := range res.Hits {
			e.snaps = append(e.snaps, index[h.Snapshot])
			e.sizes = append(e.sizes, h.Node.Size)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Find gives exactly what walking each snapshot on its own gives, in tree
// order, on generated histories where folders change, move, lose their
// tree or hold names that do not decode, and names are not UTF-8.
func TestFindAsReference(t *testing.T) {
	seen := map[string]bool{}
	for seed := int64(1); seed <= 12; seed++ {
		r, snaps := genRepo(t, seed, 4+int(seed)*2)
		for _, c := range []struct {
			pattern string
			fold    bool
		}{
			{"*", false}, {"*.txt", true}, {"a*", false}, {"x\xff*", false},
			{"**/d/*", false}, {"/a/**/*.go", true}, {"b", true}, {"*2/*", false},
		} {
			want := refFind(t, r, snaps, c.pattern, c.fold)
			for _, e := range want {
				seen[fmt.Sprint("kind ", e.kind)] = true
				seen["root lost"] = seen["root lost"] || e.path == "/"
				seen["not UTF-8"] = seen["not UTF-8"] || strings.Contains(e.path, "\xff")
				for _, sz := range e.sizes {
					seen["differs"] = seen["differs"] || sz != e.sizes[0]
				}
			}
			for _, workers := range []int{1, 3, 16} {
				got, err := findEvents(t, r, snaps, c.pattern, FindOptions{IgnoreCase: c.fold, Workers: workers})
				if err != nil {
					t.Fatalf("seed %d, find %q: %v", seed, c.pattern, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d, find %q (fold %v, %d workers):\n got %v\nwant %v", seed, c.pattern, c.fold, workers, got, want)
				}
			}
		}
	}
	for _, k := range []string{"kind 0", "kind 1", "kind 2", "root lost", "not UTF-8", "differs"} {
		if !seen[k] {
			t.Errorf("the generated histories have no case of %s", k)
		}
	}
}

// Snapshots whose root tree is lost are each named on their own, in the
// order of the snapshots, also when some share the lost tree.
func TestFindLostRootsInOrder(t *testing.T) {
	r := repo.TestRepository(t)
	var x, y id.ID
	x[0], y[0] = 1, 2
	var snaps []*repo.Snapshot
	for i, tid := range []id.ID{x, y, x} {
		sn := &repo.Snapshot{Tree: tid, Time: time.Unix(int64(i), 0)}
		sn.ID[0] = byte(i + 1)
		snaps = append(snaps, sn)
	}
	got, err := findEvents(t, r, snaps, "*", FindOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []refEvent{{path: "/", kind: 1, snaps: []int{0}}, {path: "/", kind: 1, snaps: []int{1}}, {path: "/", kind: 1, snaps: []int{2}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lost roots reported as %v, want %v", got, want)
	}
}
