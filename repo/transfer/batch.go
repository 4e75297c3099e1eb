package transfer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// Batch copies snapshots of one repository into another as cairn copy and
// the daemon's copies do: it knows which source snapshots the destination
// has copies of (a copy records its original as copied_from), takes what
// a new copy shares with the nearest copy of the same host and source
// from that copy, and commits each copy as soon as its data is stored, so
// that an interrupted batch keeps the copies it finished. A Batch is not
// safe for concurrent use.
type Batch struct {
	// Copier does the copying; set its OnProgress to hear of each
	// snapshot's progress.
	Copier *Copier

	src, dst *repo.Repository
	saver    *repo.Saver
	dryRun   bool
	source   []*repo.Snapshot         // every source snapshot, oldest first
	byID     map[id.ID]*repo.Snapshot // the same, by ID
	dest     []*repo.Snapshot         // every destination snapshot, as listed
	copies   map[id.ID]*repo.Snapshot // source snapshot -> its copy
}

// Copied is what copying one snapshot did.
type Copied struct {
	// Snapshot is the copy, saved (in a dry run: not saved, without ID).
	Snapshot  *repo.Snapshot
	BlobsRead int   // source data blobs read
	BytesRead int64 // their plaintext bytes
	// DataAdded and StoredAdded are the plaintext and stored bytes of the
	// blobs the copy added to the destination (would add, in a dry run).
	DataAdded   int64
	StoredAdded int64
}

// NewBatch lists the snapshots of src and dst for copies from src into
// dst through saver, a saver of dst (a dry-run saver stores nothing, and
// Copy then saves no snapshot), whose context outlives ctx (see Fatal).
// A destination snapshot that cannot be read is reported through warn
// and left out.
func NewBatch(ctx context.Context, src, dst *repo.Repository, saver *repo.Saver, dryRun bool, warn func(error)) (*Batch, error) {
	source, err := src.Snapshots(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("source repository: %w", err)
	}
	dest, err := dst.Snapshots(ctx, warn)
	if err != nil {
		return nil, err
	}
	// A copy never relies on data the destination has only in packs a
	// prune marked for deletion (or lost): such blobs are copied again.
	if !dryRun {
		if err := saver.AvoidLostAndMarked(ctx); err != nil {
			return nil, err
		}
	}
	b := &Batch{Copier: New(src, dst, saver), src: src, dst: dst, saver: saver, dryRun: dryRun,
		source: source, byID: map[id.ID]*repo.Snapshot{}, dest: dest, copies: map[id.ID]*repo.Snapshot{}}
	for _, sn := range source {
		b.byID[sn.ID] = sn
	}
	own := make(map[id.ID]*repo.Snapshot, len(dest))
	for _, d := range dest {
		own[d.ID] = d
		if d.CopiedFrom != nil {
			b.copies[*d.CopiedFrom] = d
		}
	}
	// A source snapshot that is itself a copy is in the destination too
	// when its original is (a copy copied back), or when the destination
	// has another copy of that original (A to B to C beside A to C): as
	// in restic, where a copy keeps its original's ID. Their trees are
	// translations of each other, as a copy's and its original's are.
	for _, sn := range source {
		if _, ok := b.copies[sn.ID]; ok || sn.CopiedFrom == nil {
			continue
		}
		if d, ok := own[*sn.CopiedFrom]; ok {
			b.copies[sn.ID] = d
		} else if d, ok := b.copies[*sn.CopiedFrom]; ok {
			b.copies[sn.ID] = d
		}
	}
	return b, nil
}

// Source returns every snapshot of the source repository, oldest first.
func (b *Batch) Source() []*repo.Snapshot { return b.source }

// Destination returns the snapshots the destination had when the batch
// began, oldest first.
func (b *Batch) Destination() []*repo.Snapshot { return b.dest }

// CopyOf returns the destination's copy of the source snapshot sid (one
// it had, or one this batch made), or nil.
func (b *Batch) CopyOf(sid id.ID) *repo.Snapshot { return b.copies[sid] }

// Copy copies sn, a snapshot of the source, into the destination: its
// blobs and trees, flushed, then the snapshot itself, which records sn as
// copied_from and as parent the copy of sn's parent, when there is one.
// Callers skip the snapshots that CopyOf finds. After an error, Fatal
// says whether the copies after this one can still be tried.
func (b *Batch) Copy(ctx context.Context, sn *repo.Snapshot) (*Copied, error) {
	before := b.Copier.Stats()
	addedBefore := b.saver.Stats()
	nsn, err := b.Copier.Copy(ctx, sn, b.earlierPair(sn))
	if err == nil {
		err = b.saver.Flush()
	}
	if err == nil && nsn.Parent == nil && sn.Parent != nil {
		if p, ok := b.copies[*sn.Parent]; ok {
			pid := p.ID
			nsn.Parent = &pid
		}
	}
	if err == nil && !b.dryRun {
		err = b.saver.CheckPruned(ctx)
	}
	if err == nil && !b.dryRun {
		err = b.dst.SaveSnapshot(ctx, nsn)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", sn.ID.Short(), err)
	}
	if !b.dryRun {
		b.copies[sn.ID] = nsn
	}
	st, added := b.Copier.Stats(), b.saver.Stats()
	return &Copied{Snapshot: nsn,
		BlobsRead: st.BlobsRead - before.BlobsRead, BytesRead: st.BytesRead - before.BytesRead,
		DataAdded: added.DataAdded - addedBefore.DataAdded, StoredAdded: added.StoredAdded - addedBefore.StoredAdded}, nil
}

// Fatal reports whether err, returned by Copy, stops the batch: the copy
// was cancelled, a lock's lease was lost, a prune ran meanwhile, or storing into the destination
// failed, so that the snapshots after it would fail too. Otherwise (a
// damaged source blob, say) only that snapshot failed.
//
// Either way the packs stored so far are indexed, so that the next run
// reuses them instead of storing them again beside them, as an
// interrupted ingest's are: for that the saver's context must not be the
// one that interrupts the copy (give NewSaver context.WithoutCancel).
func (b *Batch) Fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, repo.ErrLeaseLost) || errors.Is(err, repo.ErrPrunedMeanwhile) {
		b.saver.Flush()
		return true
	}
	return b.saver.Flush() != nil
}

// earlierPair picks the copied snapshot to take unchanged trees and
// chunks from: of the same host and source, the nearest in time before
// sn, else the nearest after it.
func (b *Batch) earlierPair(sn *repo.Snapshot) *Pair {
	var best *Pair
	var bestGap time.Duration
	for sid, d := range b.copies {
		s, ok := b.byID[sid]
		if !ok || s.Host != sn.Host || s.Source != sn.Source {
			continue
		}
		gap := sn.Time.Sub(s.Time)
		if gap < 0 {
			gap = -gap + 1<<62 // after sn: only when none is before
		}
		if best == nil || gap < bestGap {
			best, bestGap = &Pair{Src: s, Dst: d}, gap
		}
	}
	return best
}
