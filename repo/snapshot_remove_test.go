package repo

import (
	"context"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
)

func TestForgetRemoveSnapshot(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	var saved []*Snapshot
	for i := range 3 {
		sn := &Snapshot{Time: time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC), Host: "h", Source: "s"}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, sn)
	}
	// Listing fills the catalogue with all three.
	if _, err := r.Snapshots(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSnapshot(ctx, saved[1].ID); err != nil {
		t.Fatal(err)
	}
	cat, err := r.Index().Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cat[saved[1].ID]; ok || len(cat) != 2 {
		t.Errorf("catalogue still holds the removed snapshot (%d entries)", len(cat))
	}
	if _, err := r.LoadSnapshot(ctx, saved[1].ID); err == nil {
		t.Error("removed snapshot still loads")
	}
	list, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != saved[0].ID || list[1].ID != saved[2].ID {
		t.Errorf("snapshots after removal: %v", list)
	}
	// Already gone: not an error.
	if err := r.RemoveSnapshot(ctx, saved[1].ID); err != nil {
		t.Errorf("second removal: %v", err)
	}
}

// Forgetting thousands of snapshots (a year of hourly ones) removes them
// one by one: each removal must touch its own catalogue entry only, not
// read and rewrite the whole catalogue, which made forget quadratic.
func TestRemoveSnapshotCostIndependentOfCatalogue(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	var saved []*Snapshot
	for i := range 2000 {
		sn := &Snapshot{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour), Host: "h", Source: "s",
			Paths: []string{"/srv/some/long/enough/path/to/weigh/like/a/real/snapshot"}}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, sn)
	}
	if _, err := r.Snapshots(ctx, nil); err != nil {
		t.Fatal(err)
	}
	next := 0
	allocs := testing.AllocsPerRun(20, func() {
		if err := r.RemoveSnapshot(ctx, saved[next].ID); err != nil {
			t.Fatal(err)
		}
		next++
	})
	// A handful of allocations for the backend and one bolt transaction;
	// reading the catalogue of ~2000 entries costs thousands.
	if allocs > 500 {
		t.Errorf("removing one snapshot of %d took %.0f allocations: it reads the whole catalogue", len(saved), allocs)
	}
	cat, err := r.Index().Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat) != len(saved)-next {
		t.Errorf("catalogue holds %d snapshots after removing %d of %d", len(cat), next, len(saved))
	}
	for _, sn := range saved[:next] {
		if _, ok := cat[sn.ID]; ok {
			t.Errorf("catalogue still holds removed snapshot %s", sn.ID.Short())
		}
	}
}

// forget and the daemon's retention remove many snapshots at once: their
// catalogue entries go in one local index commit, not an fdatasync each.
func TestRemoveSnapshotsOneCommit(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	var sids []id.ID
	for i := range 300 {
		sn := &Snapshot{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour), Host: "h", Source: "s"}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sn.ID)
	}
	if _, err := r.Snapshots(ctx, nil); err != nil {
		t.Fatal(err)
	}
	before := r.Index().Generation()
	n, err := r.RemoveSnapshots(ctx, sids[:250])
	if err != nil || n != 250 {
		t.Fatalf("removed %d: %v", n, err)
	}
	if commits := r.Index().Generation() - before; commits > 2 {
		t.Errorf("removing 250 snapshots took %d local index commits", commits)
	}
	// The entries are gone from the catalogue itself, not only from the
	// listing below (which mends a stale catalogue on its own).
	if cat, err := r.Index().Snapshots(); err != nil || len(cat) != 50 {
		t.Errorf("catalogue right after removing 250 of 300: %d entries (%v)", len(cat), err)
	}
	list, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := r.Index().Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 50 || len(cat) != 50 || list[0].ID != sids[250] {
		t.Errorf("after removing 250 of 300: %d listed, %d catalogued", len(list), len(cat))
	}
}
