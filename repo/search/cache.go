package search

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// treeCache loads each tree once, for resolving paths in many snapshots
// that share their ancestors. Concurrent loads of one tree wait for the
// first.
type treeCache struct {
	r  *repo.Repository
	mu sync.Mutex
	m  map[id.ID]*treeEntry
}

type treeEntry struct {
	done  chan struct{}
	nodes []*tree.Node
	err   error
}

func newTreeCache(r *repo.Repository) *treeCache {
	return &treeCache{r: r, m: map[id.ID]*treeEntry{}}
}

func (c *treeCache) load(ctx context.Context, tid id.ID) ([]*tree.Node, error) {
	c.mu.Lock()
	if e, ok := c.m[tid]; ok {
		c.mu.Unlock()
		<-e.done
		return e.nodes, e.err
	}
	e := &treeEntry{done: make(chan struct{})}
	c.m[tid] = e
	c.mu.Unlock()
	e.nodes, e.err = c.r.LoadTree(ctx, tid)
	close(e.done)
	return e.nodes, e.err
}

// resolve finds the entry at path comps in sn, or nil when there is none.
func (c *treeCache) resolve(ctx context.Context, sn *repo.Snapshot, comps []string) (*tree.Node, error) {
	n := sn.RootNode()
	for _, name := range comps {
		if n.Kind != tree.KindDir || n.Subtree.IsZero() {
			return nil, nil
		}
		nodes, err := c.load(ctx, n.Subtree)
		if err != nil {
			return nil, err
		}
		i := sort.Search(len(nodes), func(i int) bool { return nodes[i].Name >= name })
		if i == len(nodes) || nodes[i].Name != name {
			return nil, nil
		}
		n = nodes[i]
	}
	return n, nil
}

// components splits a path inside a snapshot ("/a/b", "a/b/", "" for the
// root) into its names.
func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, c)
		}
	}
	return out
}
