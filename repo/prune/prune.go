package prune

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// Defaults for Options.
const (
	DefaultGracePeriod = 24 * time.Hour
	DefaultMaxUnused   = 5.0 // percent
)

// ErrRefused is wrapped by every error that stops prune because the
// repository looks damaged or incomplete. Nothing was deleted; the message
// says what to run.
var ErrRefused = errors.New("prune refused, nothing was deleted")

// Options say how to prune. Start from DefaultOptions: the zero value
// repacks every partly used pack.
type Options struct {
	// DryRun computes and returns the same Stats without writing or
	// deleting anything.
	DryRun bool
	// GracePeriod protects data younger than it (zero: the default). It
	// must be longer than repo.StaleAfter.
	GracePeriod time.Duration
	// MaxUnused is the share of unused bytes, in percent of the blob
	// bytes in kept packs, that may stay behind; the least used packs
	// are repacked until it holds. 0 repacks every partly used pack, 100
	// none.
	MaxUnused float64
	// Lock is the exclusive lock the caller holds. Required unless
	// DryRun; its lease is checked before every write and deletion.
	Lock *repo.Lock
	// AllowNoSnapshots lets prune run on a repository that has packs but
	// no snapshot, as after every snapshot was forgotten on purpose.
	AllowNoSnapshots bool
	// Log receives one-line notices of progress.
	Log func(format string, args ...any)
	// Forgotten names snapshots a dry run counts as removed already, so
	// that forget --dry-run --prune shows what prune would do after the
	// forget. Only a dry run takes it.
	Forgotten map[id.ID]bool
}

// DefaultOptions are the documented defaults.
func DefaultOptions() Options {
	return Options{GracePeriod: DefaultGracePeriod, MaxUnused: DefaultMaxUnused}
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (o *Options) check() error {
	if len(o.Forgotten) > 0 && !o.DryRun {
		return errors.New("prune: forgotten snapshots are for a dry run only")
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.GracePeriod <= repo.StaleAfter {
		return fmt.Errorf("grace period %s is too short: it must be longer than a stale lock's %s", o.GracePeriod, repo.StaleAfter)
	}
	if !(o.MaxUnused >= 0) || o.MaxUnused > 100 { // NaN too
		return fmt.Errorf("max unused %g%% is not a percentage", o.MaxUnused)
	}
	if !o.DryRun && (o.Lock == nil || !o.Lock.Exclusive()) {
		return errors.New("prune needs the exclusive lock")
	}
	return nil
}

// Stats say what prune found and did (or, in a dry run, would do). Sizes
// of packs are their stored sizes; sizes of blobs their stored (packed)
// lengths.
type Stats struct {
	DryRun bool `json:"dry_run"`

	Snapshots     int   `json:"snapshots"`
	IndexSegments int   `json:"index_segments"`
	Packs         int   `json:"packs"`
	PackBytes     int64 `json:"pack_bytes"`
	UsedBlobs     int   `json:"used_blobs"`
	UsedBytes     int64 `json:"used_bytes"`
	UnusedBytes   int64 `json:"unused_bytes"` // in indexed packs, before

	// Deleted, once marked for deletion by an earlier prune more than
	// the grace period ago: packs in no index segment, and indexed packs
	// (what a snapshot committed since the mark uses in them copied out
	// first).
	UnreferencedPacks int   `json:"unreferenced_packs"`
	UnreferencedBytes int64 `json:"unreferenced_bytes"`
	UnusedPacks       int   `json:"unused_packs"`
	UnusedPackBytes   int64 `json:"unused_pack_bytes"`
	// Repacked: packs whose used blobs were copied into new packs (the
	// mostly unused ones, and marked ones a snapshot uses), and those
	// blobs.
	RepackPacks     int   `json:"repack_packs"`
	RepackPackBytes int64 `json:"repack_pack_bytes"`
	RepackBlobs     int   `json:"repack_blobs"`
	RepackBlobBytes int64 `json:"repack_blob_bytes"`
	// Marked for deletion by this run, for a prune at least the grace
	// period later to delete: packs older than the grace period in no
	// index segment or with no used blob, and the packs repacked.
	MarkedPacks int   `json:"marked_packs"`
	MarkedBytes int64 `json:"marked_bytes"`
	// Left for a later prune: packs marked for deletion less than the
	// grace period ago,
	PendingPacks int   `json:"pending_packs"`
	PendingBytes int64 `json:"pending_bytes"`
	// and packs younger than the grace period that are unreferenced or
	// not fully used.
	GracePacks int   `json:"grace_packs"`
	GraceBytes int64 `json:"grace_bytes"`

	PacksDeleted    int   `json:"packs_deleted"` // unreferenced + unused
	BytesDeleted    int64 `json:"bytes_deleted"`
	PacksWritten    int   `json:"packs_written"`
	BytesWritten    int64 `json:"bytes_written"` // blob bytes in new packs
	BytesFreed      int64 `json:"bytes_freed"`   // deleted - written
	UnusedAfter     int64 `json:"unused_after"`  // unused bytes left in kept packs not marked
	SegmentsWritten int   `json:"segments_written"`
	SegmentsDeleted int   `json:"segments_deleted"`
	MarksWritten    int   `json:"marks_written"`
	MarksDeleted    int   `json:"marks_deleted"`
}

// Run prunes r. Unless opt.DryRun, the caller holds the exclusive lock
// and passes it in opt.Lock. The returned Stats are filled as far as Run
// got, also with an error.
func Run(ctx context.Context, r *repo.Repository, opt Options) (Stats, error) {
	if err := opt.check(); err != nil {
		return Stats{}, err
	}
	if opt.Lock != nil {
		if err := opt.Lock.Check(); err != nil {
			return Stats{}, err
		}
	}
	p, err := makePlan(ctx, r, &opt)
	if err != nil {
		return Stats{}, err
	}
	st := p.stats
	st.DryRun = opt.DryRun
	if !opt.DryRun {
		// Unfinished pack files of killed writers (a copy's, a
		// prune's repack, an ingest's): only ingest removed them, so
		// a repository that only copy writes kept them forever.
		// Nobody has touched one for the grace period.
		if tc, ok := backends.As[backends.TempCleaner](r.Backend()); ok {
			if n, _ := tc.RemoveStaleTemp(opt.GracePeriod); n > 0 {
				opt.logf("removed %d unfinished pack files left by killed processes", n)
			}
		}
	}
	if opt.DryRun || p.idle() {
		return st, nil
	}
	err = p.execute(ctx, r, &opt, &st)
	return st, err
}

// execute carries out the plan in the order the package documents.
func (p *plan) execute(ctx context.Context, r *repo.Repository, opt *Options, st *Stats) error {
	lease := opt.Lock.Check
	be := r.Backend()
	// From here Stats count what was done, not what was planned.
	st.PacksDeleted, st.BytesDeleted = 0, 0
	st.PacksWritten, st.BytesWritten, st.BytesFreed = 0, 0, 0
	st.MarkedPacks, st.MarkedBytes = 0, 0
	if len(p.repack) > 0 {
		if err := lease(); err != nil {
			return err
		}
		opt.logf("repacking %s (%d used blobs)", packs(len(p.repack)), p.stats.RepackBlobs)
		ss, err := p.copyUsed(ctx, r)
		if err != nil {
			return err
		}
		st.PacksWritten, st.BytesWritten = ss.Packs, ss.StoredAdded
		st.BytesFreed = -st.BytesWritten
	}
	if len(p.mark) > 0 {
		if err := lease(); err != nil {
			return err
		}
		mps := make([]repo.MarkedPack, len(p.mark))
		var bytes int64
		for i, pk := range p.mark {
			mps[i] = repo.MarkedPack{Type: pk.typ, ID: pk.id}
			bytes += pk.size
		}
		if _, err := r.SaveMark(ctx, mps); err != nil {
			return fmt.Errorf("write deletion mark: %w (nothing was deleted)", err)
		}
		st.MarksWritten++
		st.MarkedPacks, st.MarkedBytes = len(mps), bytes
		opt.logf("marked %s for deletion by a prune after %s", packs(len(mps)), r.Now().Add(opt.GracePeriod).Local().Format(time.RFC3339))
	}
	if err := lease(); err != nil {
		return err
	}
	written, err := p.writeIndex(ctx, r)
	st.SegmentsWritten = len(written)
	if err != nil {
		return err
	}
	// The new index hides the blobs of the packs to delete. Had the
	// lease lapsed before it was written, a writer may have started
	// meanwhile and deduplicated against them: take it back.
	if err := lease(); err != nil {
		// The lost lease cancelled ctx; the undo must still happen.
		uctx := context.WithoutCancel(ctx)
		// Newest first: the last one carries the Supersedes list, and must
		// not outlive the others.
		for i := len(written) - 1; i >= 0; i-- {
			sid := written[i]
			if rerr := be.Remove(uctx, "index/"+sid.String()); rerr != nil && !errors.Is(rerr, backends.ErrNotFound) {
				return fmt.Errorf("%w; removing the new index segment %s failed too (%v): run `cairn check`", err, sid.Short(), rerr)
			}
		}
		st.SegmentsWritten = 0
		return err
	}
	opt.logf("new index written; removing %d old index segments", len(p.segments))
	for _, sid := range p.segments {
		if err := lease(); err != nil {
			return err
		}
		if err := be.Remove(ctx, "index/"+sid.String()); err != nil && !errors.Is(err, backends.ErrNotFound) {
			return fmt.Errorf("remove index segment %s: %w (no pack was deleted; run prune again)", sid.Short(), err)
		}
		st.SegmentsDeleted++
	}
	opt.logf("deleting %s", packs(len(p.remove)))
	for _, pk := range p.remove {
		if err := lease(); err != nil {
			return err
		}
		if err := be.Remove(ctx, pk.name); err != nil && !errors.Is(err, backends.ErrNotFound) {
			return fmt.Errorf("remove pack %s: %w (run prune again to finish)", pk.name, err)
		}
		st.PacksDeleted++
		st.BytesDeleted += pk.size
		st.BytesFreed = st.BytesDeleted - st.BytesWritten
	}
	for _, mid := range p.dropMarks {
		if err := lease(); err != nil {
			return err
		}
		if err := r.RemoveMark(ctx, mid); err != nil {
			return fmt.Errorf("%w (run prune again to finish)", err)
		}
		st.MarksDeleted++
	}
	return r.SyncIndex(ctx)
}
