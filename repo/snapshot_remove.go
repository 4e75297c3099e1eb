package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/id"
)

// RemoveSnapshot deletes the snapshot object sid and drops it from the
// local catalogue. Only the snapshot goes: the trees and data it refers to
// stay until prune finds them unreferenced, so a shared lock is enough.
// Removing a snapshot that is already gone is not an error, so that two
// forget runs that overlap both succeed.
func (r *Repository) RemoveSnapshot(ctx context.Context, sid id.ID) error {
	name := kindFolder[kindSnapshot] + sid.String()
	if err := r.be.Remove(ctx, name); err != nil && !errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	// Should this fail, the catalogue is only stale: Snapshots drops the
	// entry the next time it compares the catalogue with the listing.
	// Only this entry is touched: reading and rewriting the whole
	// catalogue for each snapshot made forgetting thousands quadratic.
	_, err := r.idx.DropSnapshot(sid)
	return err
}

// RemoveSnapshots removes the snapshots sids as RemoveSnapshot does, with
// their catalogue entries dropped in one local index transaction rather
// than a commit (an fdatasync) each, which made forgetting thousands of
// snapshots slow. It returns how many were removed before an error.
func (r *Repository) RemoveSnapshots(ctx context.Context, sids []id.ID) (int, error) {
	var err error
	n := 0
	for _, sid := range sids {
		name := kindFolder[kindSnapshot] + sid.String()
		if e := r.be.Remove(ctx, name); e != nil && !errors.Is(e, backends.ErrNotFound) {
			err = fmt.Errorf("remove %s: %w", name, e)
			break
		}
		n++
	}
	if e := r.idx.DropSnapshots(sids[:n]); e != nil && err == nil {
		err = e
	}
	return n, err
}
