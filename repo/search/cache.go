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

// treeCache looks names up in trees, loading each tree once per name for
// resolving a path in many snapshots that share their ancestors. It keeps
// the entry found, not the tree: a path through a wide folder that changes
// in every snapshot costs one node per snapshot. Concurrent lookups of
// one name in one tree wait for the first.
type treeCache struct {
	r  *repo.Repository
	mu sync.Mutex
	m  map[lookupKey]*lookup
}

// lookupKey is a name in a tree: one tree may be met at several depths of
// a path, each time for another name.
type lookupKey struct {
	tid  id.ID
	name string
}

type lookup struct {
	done chan struct{}
	node *tree.Node // nil: no such entry
	err  error
}

func newTreeCache(r *repo.Repository) *treeCache {
	return &treeCache{r: r, m: map[lookupKey]*lookup{}}
}

// child returns the entry name of tree tid, or nil when there is none.
func (c *treeCache) child(ctx context.Context, tid id.ID, name string) (*tree.Node, error) {
	k := lookupKey{tid, name}
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		c.mu.Unlock()
		<-e.done
		return e.node, e.err
	}
	e := &lookup{done: make(chan struct{})}
	c.m[k] = e
	c.mu.Unlock()
	defer close(e.done)
	// An entry of the folder that does not decode (an invalid name) is
	// not the one looked up: the others are found all the same.
	nodes, _, err := c.r.LoadTreePartial(ctx, tid)
	if err != nil {
		e.err = err
		return nil, err
	}
	i := sort.Search(len(nodes), func(i int) bool { return nodes[i].Name >= name })
	if i < len(nodes) && nodes[i].Name == name {
		e.node = nodes[i]
	}
	return e.node, nil
}

// resolve finds the entry at path comps in sn, or nil when there is none.
func (c *treeCache) resolve(ctx context.Context, sn *repo.Snapshot, comps []string) (*tree.Node, error) {
	n := sn.RootNode()
	for _, name := range comps {
		if n.Kind != tree.KindDir || n.Subtree.IsZero() {
			return nil, nil
		}
		next, err := c.child(ctx, n.Subtree, name)
		if err != nil || next == nil {
			return nil, err
		}
		n = next
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
