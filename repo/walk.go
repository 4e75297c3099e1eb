package repo

import (
	"cmp"
	"context"
	"path"
	"slices"

	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Visit is called by Walk for every node below a snapshot's root, parents
// before their children, with the node's slash-separated path from the
// root ("etc/passwd"). For a folder, returning descend=false skips what is
// inside it (for a caller that has seen that tree already). A non-nil
// error stops the walk and is returned.
type Visit func(p string, n *tree.Node) (descend bool, err error)

// TreeError is called by Walk when the tree of the folder at p cannot be
// loaded. Returning nil goes on with the rest of the snapshot; returning
// an error stops the walk with it.
type TreeError func(p string, tid id.ID, err error) error

// Walk visits every node of sn's tree. onErr decides what a tree that
// cannot be loaded does to the walk; nil stops it with the error.
func (r *Repository) Walk(ctx context.Context, sn *Snapshot, visit Visit, onErr TreeError) error {
	if onErr == nil {
		onErr = func(_ string, _ id.ID, err error) error { return err }
	}
	var walk func(p string, tid id.ID) error
	walk = func(p string, tid id.ID) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		nodes, err := r.LoadTree(ctx, tid)
		if err != nil {
			return onErr(p, tid, err)
		}
		for _, n := range nodes {
			cp := path.Join(p, n.Name)
			descend, err := visit(cp, n)
			if err != nil {
				return err
			}
			if descend && n.Kind == tree.KindDir && !n.Subtree.IsZero() {
				if err := walk(cp, n.Subtree); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if sn.Tree.IsZero() {
		return nil
	}
	return walk("", sn.Tree)
}

// LinkCounts is what Snapshot.Links says of a snapshot whose root tree is
// tid: every hardlink group with another number of names in the tree than
// its nodes' Links (fewer: some were left out; more: one inode seen through
// a bind mount or two overlapping paths), with the number it has, sorted by Dev, then Inode. A writer that
// drops names from a tree (repair, rewrite) recounts with it.
func (r *Repository) LinkCounts(ctx context.Context, tid id.ID) ([]LinkCount, error) {
	type group struct{ links, names uint32 }
	groups := map[[2]uint64]*group{}
	err := r.Walk(ctx, &Snapshot{Tree: tid}, func(_ string, n *tree.Node) (bool, error) {
		if n.Kind == tree.KindDir || n.Links <= 1 {
			return true, nil
		}
		k := [2]uint64{n.Dev, n.Inode}
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
		}
		g.links = max(g.links, n.Links)
		g.names++
		return true, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	var out []LinkCount
	for k, g := range groups {
		if g.names != g.links {
			out = append(out, LinkCount{Dev: k[0], Inode: k[1], Count: g.names})
		}
	}
	SortLinkCounts(out)
	return out, nil
}

// SortLinkCounts puts a snapshot's Links in their stored order: by Dev,
// then Inode.
func SortLinkCounts(ls []LinkCount) {
	slices.SortFunc(ls, func(a, b LinkCount) int {
		if c := cmp.Compare(a.Dev, b.Dev); c != 0 {
			return c
		}
		return cmp.Compare(a.Inode, b.Inode)
	})
}
