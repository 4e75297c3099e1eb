package repo

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// SnapshotStats are one snapshot's figures, in the three sizes borg users
// know: what was backed up, what it takes compressed, and what only it
// takes in the repository.
type SnapshotStats struct {
	ID    id.ID `json:"id"`
	Files int64 `json:"files"` // regular files; hardlinks counted once
	Dirs  int64 `json:"dirs"`
	Other int64 `json:"other"` // symlinks, devices, fifos, sockets
	// OriginalBytes is the sum of the files' sizes.
	OriginalBytes int64 `json:"original_bytes"`
	// Blobs are the distinct data and tree blobs the snapshot uses;
	// RawBytes their plaintext size, StoredBytes their size compressed
	// and encrypted in packs.
	Blobs       int64 `json:"blobs"`
	RawBytes    int64 `json:"raw_bytes"`
	StoredBytes int64 `json:"stored_bytes"`
	// UniqueBytes is stored for blobs no other snapshot uses: what
	// forgetting this snapshot alone (and pruning) would free.
	UniqueBytes int64 `json:"unique_bytes"`
}

// RepoStats are the whole repository's figures.
type RepoStats struct {
	Snapshots     int   `json:"snapshots"`
	OriginalBytes int64 `json:"original_bytes"` // over all snapshots
	// Blobs used by any snapshot, their plaintext and stored sizes.
	Blobs       int64 `json:"blobs"`
	RawBytes    int64 `json:"raw_bytes"`
	StoredBytes int64 `json:"stored_bytes"`
	// UnusedBytes are stored in indexed packs but used by no snapshot:
	// what prune would free (some may belong to an ingest in progress).
	UnusedBytes int64 `json:"unused_bytes"`
	// Packs and TotalBytes: every object in the repository.
	Packs      int64 `json:"packs"`
	TotalBytes int64 `json:"total_bytes"`
}

// Stats computes the figures of each snapshot in want and of the whole
// repository, which needs every snapshot in all. lost, when set, is told
// of each folder whose tree cannot be read, and the figures leave out
// what is inside it; without it such a folder stops Stats.
func (r *Repository) Stats(ctx context.Context, want, all []*Snapshot, lost func(sn *Snapshot, p string, err error)) ([]SnapshotStats, RepoStats, error) {
	var rs RepoStats
	rs.Snapshots = len(all)
	wanted := map[id.ID]bool{}
	for _, sn := range want {
		wanted[sn.ID] = true
	}
	per := map[id.ID]*SnapshotStats{}
	// Snapshots share most of their trees: each distinct tree is read and
	// decoded once for all of them (statsTrees), and a blob is counted
	// once per snapshot by remembering the last snapshot that counted it
	// (last), and once per wanted snapshot in the second pass (lastWant),
	// without a set of blobs per snapshot.
	type ref struct {
		snaps, last, lastWant int32
		raw, stored           int64 // the blob's sizes, looked up once
	}
	refs := map[id.ID]ref{} // blob -> number of snapshots using it
	trees := &statsTrees{r: r, memo: map[id.ID]*statsTree{}}
	for i, sn := range all {
		st := &SnapshotStats{ID: sn.ID}
		mark := func(b id.ID) {
			if e := refs[b]; e.snaps == 0 || e.last != int32(i) {
				e.snaps, e.last = e.snaps+1, int32(i)
				refs[b] = e
			}
		}
		if err := trees.snapshot(ctx, sn, st, mark, lost); err != nil {
			return nil, rs, err
		}
		rs.OriginalBytes += st.OriginalBytes
		if wanted[sn.ID] {
			per[sn.ID] = st
		}
	}
	size := func(b id.ID) (raw, stored int64, err error) {
		loc, ok, err := r.idx.Lookup(b)
		if err != nil || !ok {
			return 0, 0, fmt.Errorf("blob %s is in no index segment (run cairn check): %w", b.Short(), ErrNotFound)
		}
		return int64(loc.RawLength), int64(loc.Length), nil
	}
	for b, e := range refs {
		raw, stored, err := size(b)
		if err != nil {
			return nil, rs, err
		}
		e.raw, e.stored = raw, stored
		refs[b] = e
		rs.Blobs++
		rs.RawBytes += raw
		rs.StoredBytes += stored
	}
	out := make([]SnapshotStats, 0, len(want))
	for j, sn := range want {
		st := per[sn.ID]
		if st == nil {
			continue
		}
		mark := func(b id.ID) {
			e := refs[b]
			if e.lastWant == int32(j+1) {
				return
			}
			e.lastWant = int32(j + 1)
			refs[b] = e
			st.Blobs++
			st.RawBytes += e.raw
			st.StoredBytes += e.stored
			if e.snaps == 1 {
				st.UniqueBytes += e.stored
			}
		}
		// The trees are all in memory now: no storage read, and an
		// unreadable one was reported in the first pass.
		if err := trees.snapshot(ctx, sn, nil, mark, nil); err != nil {
			return nil, rs, err
		}
		out = append(out, *st)
	}
	packed, err := r.idx.PackedBytes()
	if err != nil {
		return nil, rs, err
	}
	rs.UnusedBytes = max(0, packed-rs.StoredBytes)
	err = r.be.List(ctx, "", func(fi backends.Info) error {
		if strings.HasPrefix(fi.Name, "data/") || strings.HasPrefix(fi.Name, "tree/") {
			rs.Packs++
		}
		rs.TotalBytes += fi.Size
		return nil
	})
	if err != nil {
		return nil, rs, fmt.Errorf("list repository: %w", err)
	}
	return out, rs, nil
}

// statsTree is what Stats keeps of one tree: the entries directly in it
// and the figures of everything below it.
type statsTree struct {
	err error // the tree could not be read
	// blobs directly used: the content of its files (hardlinked ones left
	// out) and the trees of its folders.
	blobs []id.ID
	// items are its folders with a tree and its hardlinked files, in the
	// tree's order, which Walk would visit.
	items []*tree.Node
	// dirs, files, other and orig count the whole subtree as Walk would,
	// hardlinked files left out: they count once per snapshot.
	dirs, files, other, orig int64
}

// statsTrees reads each tree once for all the snapshots Stats looks at.
type statsTrees struct {
	r    *Repository
	memo map[id.ID]*statsTree
}

// get returns the figures of tree tid and of everything below it. A tree
// that cannot be read has its error and no entries.
func (c *statsTrees) get(ctx context.Context, tid id.ID) (*statsTree, error) {
	if e, ok := c.memo[tid]; ok {
		return e, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e := &statsTree{}
	nodes, err := c.r.LoadTree(ctx, tid)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		e.err = err
		c.memo[tid] = e
		return e, nil
	}
	for _, n := range nodes {
		switch n.Kind {
		case tree.KindDir:
			e.dirs++
			if n.Subtree.IsZero() {
				continue
			}
			e.blobs = append(e.blobs, n.Subtree)
			e.items = append(e.items, n)
			sub, err := c.get(ctx, n.Subtree)
			if err != nil {
				return nil, err
			}
			e.dirs += sub.dirs
			e.files += sub.files
			e.other += sub.other
			e.orig += sub.orig
		case tree.KindFile:
			if n.Links > 1 {
				e.items = append(e.items, n)
				continue
			}
			e.files++
			e.orig += int64(n.Size)
			for _, ch := range n.Content {
				if !ch.Hole {
					e.blobs = append(e.blobs, ch.ID)
				}
			}
		default:
			e.other++
		}
	}
	c.memo[tid] = e
	return e, nil
}

// snapshot counts sn's entries into st and calls mark for every blob sn
// uses (some more than once), visiting each distinct tree of sn once.
// With st nil it only marks, and passes over unreadable trees.
func (c *statsTrees) snapshot(ctx context.Context, sn *Snapshot, st *SnapshotStats, mark func(id.ID), lost func(*Snapshot, string, error)) error {
	if sn.Tree.IsZero() {
		return nil
	}
	mark(sn.Tree)
	failed := func(p string, err error) error {
		if st == nil {
			return nil
		}
		if lost == nil || ctx.Err() != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
		}
		lost(sn, p, err)
		return nil
	}
	links := map[[2]uint64]bool{}
	seen := map[id.ID]bool{}
	var visit func(p string, tid id.ID) error
	visit = func(p string, tid id.ID) error {
		e, err := c.get(ctx, tid)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
		}
		if e.err != nil {
			return failed(p, e.err)
		}
		// A tree seen already in this snapshot adds no blob and no
		// hardlink that its first visit did not.
		if seen[tid] {
			return nil
		}
		seen[tid] = true
		for _, b := range e.blobs {
			mark(b)
		}
		for _, n := range e.items {
			if n.Kind == tree.KindDir {
				if err := visit(path.Join(p, n.Name), n.Subtree); err != nil {
					return err
				}
				continue
			}
			key := [2]uint64{n.Dev, n.Inode}
			if links[key] {
				continue
			}
			links[key] = true
			if st != nil {
				st.Files++
				st.OriginalBytes += int64(n.Size)
			}
			for _, ch := range n.Content {
				if !ch.Hole {
					mark(ch.ID)
				}
			}
		}
		return nil
	}
	root, err := c.get(ctx, sn.Tree)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
	}
	if st != nil {
		st.Dirs += root.dirs
		st.Files += root.files
		st.Other += root.other
		st.OriginalBytes += root.orig
	}
	return visit("", sn.Tree)
}
