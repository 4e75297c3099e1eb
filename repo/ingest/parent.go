package ingest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// findParent returns the parent snapshot: the one opt.Parent selects
// ("latest" of the ingest's host and source, or an ID prefix of any
// snapshot), or else the newest of the host and source, if any.
func findParent(ctx context.Context, r *repo.Repository, opt Options) (*repo.Snapshot, error) {
	f := repo.Filter{Hosts: []string{opt.Host}, Sources: []string{opt.Source}}
	if opt.Parent == "" {
		sn, err := r.FindSnapshot(ctx, "latest", f)
		if err != nil {
			return nil, nil // none yet (or none readable): no parent
		}
		return sn, nil
	}
	sn, err := r.FindSnapshot(ctx, opt.Parent, f)
	if err != nil {
		return nil, fmt.Errorf("parent: %w", err)
	}
	return sn, nil
}

// sameAsParent reports whether sn holds what parent holds: the same tree
// of the same paths (and, when the root itself was ingested, the same
// root metadata). Host, source, tags and times are not compared.
func sameAsParent(sn, parent *repo.Snapshot) bool {
	if parent == nil || sn.Tree != parent.Tree || !slices.Equal(sn.Paths, parent.Paths) {
		return false
	}
	return !slices.Contains(sn.Paths, "/") || bytes.Equal(sn.Root, parent.Root)
}

// parentTrees is a chosen parent snapshot's folders, read from its trees
// as the walk reaches them, and dropped once the walk is done with them.
type parentTrees struct {
	ctx  context.Context
	r    *repo.Repository
	root id.ID
	dirs sync.Map // folder path -> *parentDir
}

// parentDir is one folder of the parent. The first to ask reads it;
// whoever asks meanwhile waits for ready. Once ready, m is only read.
type parentDir struct {
	ready chan struct{}
	m     map[string]*tree.Node
}

func newParentTrees(ctx context.Context, r *repo.Repository, sn *repo.Snapshot) *parentTrees {
	return &parentTrees{ctx: ctx, r: r, root: sn.Tree}
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
// that cannot be read counts as empty: that only costs re-reads.
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
