package repo

import (
	"context"
	"fmt"
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
	refs := map[id.ID]int32{} // blob -> number of snapshots using it
	wanted := map[id.ID]bool{}
	for _, sn := range want {
		wanted[sn.ID] = true
	}
	per := map[id.ID]*SnapshotStats{}
	sets := map[id.ID]map[id.ID]bool{} // blobs of each wanted snapshot
	for _, sn := range all {
		st := &SnapshotStats{ID: sn.ID}
		set, err := r.snapshotBlobs(ctx, sn, st, lost)
		if err != nil {
			return nil, rs, err
		}
		for b := range set {
			refs[b]++
		}
		rs.OriginalBytes += st.OriginalBytes
		if wanted[sn.ID] {
			per[sn.ID], sets[sn.ID] = st, set
		}
	}
	size := func(b id.ID) (raw, stored int64, err error) {
		loc, ok, err := r.idx.Lookup(b)
		if err != nil || !ok {
			return 0, 0, fmt.Errorf("blob %s is in no index segment (run cairn check): %w", b.Short(), ErrNotFound)
		}
		return int64(loc.RawLength), int64(loc.Length), nil
	}
	for b := range refs {
		raw, stored, err := size(b)
		if err != nil {
			return nil, rs, err
		}
		rs.Blobs++
		rs.RawBytes += raw
		rs.StoredBytes += stored
	}
	out := make([]SnapshotStats, 0, len(want))
	for _, sn := range want {
		st := per[sn.ID]
		if st == nil {
			continue
		}
		for b := range sets[sn.ID] {
			raw, stored, err := size(b)
			if err != nil {
				return nil, rs, err
			}
			st.Blobs++
			st.RawBytes += raw
			st.StoredBytes += stored
			if refs[b] == 1 {
				st.UniqueBytes += stored
			}
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

// snapshotBlobs returns the set of blobs sn uses and counts its entries
// into st.
func (r *Repository) snapshotBlobs(ctx context.Context, sn *Snapshot, st *SnapshotStats, lost func(*Snapshot, string, error)) (map[id.ID]bool, error) {
	var onErr TreeError
	if lost != nil {
		onErr = func(p string, _ id.ID, err error) error {
			if ctx.Err() != nil {
				return err
			}
			lost(sn, p, err)
			return nil
		}
	}
	set := map[id.ID]bool{}
	if !sn.Tree.IsZero() {
		set[sn.Tree] = true
	}
	links := map[[2]uint64]bool{}
	err := r.Walk(ctx, sn, func(p string, n *tree.Node) (bool, error) {
		switch n.Kind {
		case tree.KindDir:
			st.Dirs++
			if !n.Subtree.IsZero() {
				set[n.Subtree] = true
			}
			return true, nil
		case tree.KindFile:
			if n.Links > 1 {
				key := [2]uint64{n.Dev, n.Inode}
				if links[key] {
					return false, nil
				}
				links[key] = true
			}
			st.Files++
			st.OriginalBytes += int64(n.Size)
			for _, c := range n.Content {
				if !c.Hole {
					set[c.ID] = true
				}
			}
		default:
			st.Other++
		}
		return false, nil
	}, onErr)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
	}
	return set, nil
}
