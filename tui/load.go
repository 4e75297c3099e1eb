package tui

import (
	"context"
	"fmt"
	"path"
	"sync"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// The results of the loads, one type each.
type (
	snapshotsLoaded struct {
		snaps    []*repo.Snapshot
		warnings int
		err      error
	}
	dirLoaded struct {
		dir   string
		node  *tree.Node // the folder itself
		nodes []*tree.Node
		err   error
		// skipped names the entries of the folder that do not decode
		// (a crafted or damaged tree), left out of nodes.
		skipped error
		// notDir says the path is there but is no folder (a file).
		notDir bool
	}
	headLoaded struct {
		node *tree.Node
		data []byte
		err  error
	}
	sizeLoaded struct {
		tid  id.ID
		size int64
		err  error
	}
)

func loadSnapshots(ctx context.Context, r *repo.Repository) snapshotsLoaded {
	var res snapshotsLoaded
	res.snaps, res.err = r.Snapshots(ctx, func(error) { res.warnings++ })
	return res
}

// loadDir reads the entries of the folder at dir ("/" or "/a/b") of sn.
func loadDir(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, dir string) dirLoaded {
	res := dirLoaded{dir: dir}
	n, _, err := restore.Find(ctx, r, sn, dir)
	if err != nil {
		res.err = err
		return res
	}
	if n.Kind != tree.KindDir {
		res.err, res.notDir = fmt.Errorf("%s is not a folder", dir), true
		return res
	}
	res.node = n
	if !n.Subtree.IsZero() {
		res.nodes, res.skipped, res.err = r.LoadTreePartial(ctx, n.Subtree)
	}
	return res
}

// readHead reads up to limit bytes from the start of file n.
func readHead(ctx context.Context, r *repo.Repository, n *tree.Node, limit int) ([]byte, error) {
	var out []byte
	for _, c := range n.Content {
		if len(out) >= limit {
			break
		}
		if c.Hole {
			out = append(out, make([]byte, min(int(c.Size), limit-len(out)))...)
			continue
		}
		b, err := r.LoadBlob(ctx, id.DataBlob, c.ID, nil)
		if err != nil {
			return out, err
		}
		// Copy only what is wanted: the side pane keeps the heads of
		// every file it showed, and a chunk may be megabytes.
		out = append(out, b[:min(len(b), limit-len(out))]...)
	}
	return out, nil
}

// sizeCache holds the totals of folder trees, by tree ID: the same
// folder in many snapshots is summed once.
type sizeCache struct {
	mu      sync.Mutex
	sizes   map[id.ID]dirTotal
	pending map[id.ID]bool
}

// dirTotal is what a folder holds, counted as du does: a file with
// several names (a hardlink group) once.
type dirTotal struct {
	bytes, files int64
	// open are the hardlink groups with names here and maybe others
	// outside (fewer names seen than their link count): a folder above
	// holding both counts them once. Nil when there are none.
	open map[[2]uint64]linkGroup
}

type linkGroup struct {
	size         int64
	names, links uint32 // names seen, names in all
}

// fileTotal is the total of one file.
func fileTotal(n *tree.Node) dirTotal {
	t := dirTotal{bytes: int64(n.Size), files: 1}
	if n.Links > 1 {
		t.open = map[[2]uint64]linkGroup{{n.Dev, n.Inode}: {size: int64(n.Size), names: 1, links: n.Links}}
	}
	return t
}

// add counts c into t; c is not changed (it may be cached).
func (t *dirTotal) add(c dirTotal) {
	t.bytes += c.bytes
	t.files += c.files
	for k, g := range c.open {
		if have, ok := t.open[k]; ok {
			t.bytes -= g.size // counted in t already
			t.files--
			g.names += have.names
		}
		if g.names >= g.links { // every name is here: none can be above
			delete(t.open, k)
			continue
		}
		if t.open == nil {
			t.open = map[[2]uint64]linkGroup{}
		}
		t.open[k] = g
	}
}

func newSizeCache() *sizeCache {
	return &sizeCache{sizes: map[id.ID]dirTotal{}, pending: map[id.ID]bool{}}
}

// get is the total size of tree tid, when known.
func (c *sizeCache) get(tid id.ID) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.sizes[tid]
	return t.bytes, ok
}

// claim reports whether the caller should compute tid (nobody has yet).
func (c *sizeCache) claim(tid id.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sizes[tid]; ok || c.pending[tid] {
		return false
	}
	c.pending[tid] = true
	return true
}

// total sums the files below tree tid, using and filling the cache.
func (c *sizeCache) total(ctx context.Context, r *repo.Repository, tid id.ID) (dirTotal, error) {
	c.mu.Lock()
	t, ok := c.sizes[tid]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	// Entries that do not decode are left out of the sum: the listing
	// says they are.
	nodes, _, err := r.LoadTreePartial(ctx, tid)
	if err != nil {
		return dirTotal{}, err
	}
	var sum dirTotal
	for _, n := range nodes {
		switch {
		case n.Kind == tree.KindFile:
			sum.add(fileTotal(n))
		case n.Kind == tree.KindDir && !n.Subtree.IsZero():
			s, err := c.total(ctx, r, n.Subtree)
			if err != nil {
				return dirTotal{}, err
			}
			sum.add(s)
		}
	}
	c.mu.Lock()
	c.sizes[tid] = sum
	delete(c.pending, tid)
	c.mu.Unlock()
	return sum, nil
}

// dirSize is the known total size of folder n.
func (a *App) dirSize(n *tree.Node) (int64, bool) {
	if n == nil || n.Kind != tree.KindDir {
		return 0, false
	}
	if n.Subtree.IsZero() {
		return 0, true
	}
	return a.sizes.get(n.Subtree)
}

// startSize computes folder n's total size for p, unless it is known or
// already being computed.
func (a *App) startSize(p page, n *tree.Node) tea.Cmd {
	if n == nil || n.Kind != tree.KindDir || n.Subtree.IsZero() || !a.sizes.claim(n.Subtree) {
		return nil
	}
	tid, r, c := n.Subtree, a.r, a.sizes
	return a.load(p, func(ctx context.Context) any {
		t, err := c.total(ctx, r, tid)
		if err != nil {
			c.mu.Lock()
			delete(c.pending, tid)
			c.mu.Unlock()
		}
		return sizeLoaded{tid: tid, size: t.bytes, err: err}
	})
}

// joinPath joins a folder path inside a snapshot and an entry name.
func joinPath(dir, name string) string { return path.Join("/", dir, name) }
