package repo

import (
	"context"
	"testing"
	"time"
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
