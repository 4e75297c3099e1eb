package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// findParent returns the parent snapshot: the one opt.Parent selects
// ("latest" of the ingest's host and source, or an ID prefix of any
// snapshot), or else the newest of the host and source with the same
// paths, or else the newest of the host and source, if any. The same
// paths come first so that separate ingests of /etc and /home under one
// source each compare with their own last run. A stream (--stdin) takes
// only a snapshot of a stream of the same name: a dump of another
// database under the same source holds nothing to compare it with.
// Snapshots dated after this one (opt.Time) are passed over, as restic
// does: an older backup imported with --time, or an ingest after a
// clock skew wrote a snapshot in the future, does not take a later
// snapshot for what it changes from (and, with SkipIfUnchanged, is not
// skipped for holding what that later one holds).
func findParent(ctx context.Context, r *repo.Repository, opt Options, paths []string) (*repo.Snapshot, error) {
	f := repo.Filter{Hosts: []string{opt.Host}, Sources: []string{opt.Source}}
	if opt.Parent == "" {
		all, err := r.Snapshots(ctx, func(error) {})
		if err != nil {
			return nil, nil // none readable: no parent
		}
		var newest *repo.Snapshot
		for i := len(all) - 1; i >= 0; i-- {
			if !f.Match(all[i]) || all[i].Time.After(opt.Time) {
				continue
			}
			if repo.SamePaths(all[i].Paths, paths) {
				return all[i], nil
			}
			if newest == nil && opt.Stdin == nil {
				newest = all[i]
			}
		}
		return newest, nil
	}
	sn, err := r.FindSnapshot(ctx, opt.Parent, f)
	if err != nil {
		return nil, fmt.Errorf("parent: %w", err)
	}
	return sn, nil
}

// sameAsParent reports whether sn holds what parent holds: the same
// paths, and trees (and, when the root itself was ingested, root
// metadata) that differ in access times at most. Host, source, tags and
// times are not compared. Access times are left out because a mere read
// of a file, or a listing of a folder, moves them (once a day under
// relatime), which would leave a daily ingest nothing to skip. So are
// the times, owners and modes of the folders above the ingested paths
// (/home and /home/ann for /home/ann/data): they are kept so that a
// restore can rebuild them, but they were not asked for, and they move
// whenever anything else in them does. A tree that cannot be read
// counts as changed. load reads a tree (from the repository, or what a
// dry run would have stored).
func sameAsParent(sn, parent *repo.Snapshot, load func(id.ID) ([]*tree.Node, error)) bool {
	if parent == nil || !repo.SamePaths(sn.Paths, parent.Paths) {
		return false
	}
	// The hardlink counts a mount reports: a parent written before
	// 625ca2c lists no group seen through a bind mount, and kept in its
	// place it would go on showing such a group's nlink as the source's.
	if !slices.Equal(sn.Links, parent.Links) {
		return false
	}
	if slices.Contains(sn.Paths, "/") && !bytes.Equal(sn.Root, parent.Root) {
		a, errA := tree.DecodeNode(sn.Root)
		b, errB := tree.DecodeNode(parent.Root)
		if errA != nil || errB != nil || !sameButATime(a, b) {
			return false
		}
	}
	return sameTree(load, sn.Paths, "/", sn.Tree, parent.Tree)
}

// sameTree reports whether the trees a and b of the folder dir hold the
// same nodes but for access times, and but for the metadata of the
// folders above the ingested paths, reading only the subtrees whose IDs
// differ.
func sameTree(load func(id.ID) ([]*tree.Node, error), paths []string, dir string, a, b id.ID) bool {
	if a == b {
		return true
	}
	na, err := load(a)
	if err != nil {
		return false
	}
	nb, err := load(b)
	if err != nil || len(na) != len(nb) {
		return false
	}
	for i := range na { // both sorted by name
		x, y := na[i], nb[i]
		p := filepath.Join(dir, x.Name)
		// a folder on the way to an ingested path: only its contents count
		onTheWay := x.Kind == tree.KindDir && y.Kind == tree.KindDir && x.Name == y.Name && !ingested(paths, p)
		if !onTheWay && !sameButATime(x, y) {
			return false
		}
		if x.Kind == tree.KindDir && !sameTree(load, paths, p, x.Subtree, y.Subtree) {
			return false
		}
	}
	return true
}

// ingested reports whether p is one of the ingested paths or lies
// below one.
func ingested(paths []string, p string) bool {
	for _, q := range paths {
		if p == q || strings.HasPrefix(p, q) && (q == "/" || p[len(q)] == '/') {
			return true
		}
	}
	return false
}

// sameButATime reports whether a and b encode the same but for their
// access times and, for folders, their subtrees.
func sameButATime(a, b *tree.Node) bool {
	x, y := *a, *b
	x.ATime, y.ATime = 0, 0
	if x.Kind == tree.KindDir && y.Kind == tree.KindDir {
		x.Subtree, y.Subtree = id.Zero, id.Zero
	}
	return bytes.Equal(tree.EncodeNode(&x), tree.EncodeNode(&y))
}

// parentStream returns the parent's stream named name, when the parent
// is a stream snapshot of that name (nil otherwise, or when its tree
// cannot be read).
func (g *ingester) parentStream(name string) *tree.Node {
	p := g.parent
	if p == nil || len(p.Paths) != 1 || p.Paths[0] != name {
		return nil
	}
	nodes, err := g.r.LoadTree(g.ctx, p.Tree)
	if err != nil || len(nodes) != 1 || nodes[0].Name != name {
		return nil
	}
	return nodes[0]
}

// sameButTimes is sameButATime ignoring the modification and change
// times too: those of a stream are the times of its ingest.
func sameButTimes(a, b *tree.Node) bool {
	x, y := *a, *b
	x.MTime, y.MTime, x.CTime, y.CTime = 0, 0, 0, 0
	return sameButATime(&x, &y)
}

// sameButOwnerAndMode reports whether a and b differ only in their times,
// owner and mode.
func sameButOwnerAndMode(a, b *tree.Node) bool {
	y := *b
	y.Mode, y.UID, y.GID, y.User, y.Group = a.Mode, a.UID, a.GID, a.User, a.Group
	return sameButTimes(a, &y)
}

// parentTrees is a chosen parent snapshot's folders, read from its trees
// as the walk reaches them, and dropped once the walk is done with them.
type parentTrees struct {
	ctx  context.Context
	r    *repo.Repository
	root id.ID
	dirs sync.Map // folder path -> *parentDir
	// damaged is told of a tree found damaged, so that the ingest stores
	// it again instead of relying on it.
	damaged func(id.ID)
}

// parentDir is one folder of the parent. The first to ask reads it;
// whoever asks meanwhile waits for ready. Once ready, m is only read.
type parentDir struct {
	ready chan struct{}
	m     map[string]*tree.Node
}

func newParentTrees(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, damaged func(id.ID)) *parentTrees {
	return &parentTrees{ctx: ctx, r: r, root: sn.Tree, damaged: damaged}
}

// entries returns the parent's nodes in the folder dir (an absolute,
// clean path) by name: none when the parent does not hold that folder.
func (p *parentTrees) entries(dir string) map[string]*tree.Node {
	v, ok := p.dirs.Load(dir)
	if !ok {
		d := &parentDir{ready: make(chan struct{})}
		if v, ok = p.dirs.LoadOrStore(dir, d); !ok {
			d.m = p.read(dir)
			close(d.ready)
			return d.m
		}
	}
	d := v.(*parentDir)
	<-d.ready
	return d.m
}

// read loads the tree of dir, found through the folders above it. A tree
// that cannot be read counts as empty: that only costs re-reads. One that
// is damaged is also stored again if the new snapshot holds it.
func (p *parentTrees) read(dir string) map[string]*tree.Node {
	tid := p.root
	if dir != "/" {
		up, name := filepath.Split(dir)
		n := p.entries(filepath.Clean(up))[name]
		if n == nil || n.Kind != tree.KindDir {
			return nil
		}
		tid = n.Subtree
	}
	nodes, err := p.r.LoadTree(p.ctx, tid)
	if err != nil {
		if errors.Is(err, repo.ErrDamaged) && p.damaged != nil {
			p.damaged(tid)
		}
		return nil
	}
	m := make(map[string]*tree.Node, len(nodes))
	for _, n := range nodes {
		m[n.Name] = n
	}
	return m
}

// forget drops a finished folder.
func (p *parentTrees) forget(dir string) {
	p.dirs.Delete(dir)
}
