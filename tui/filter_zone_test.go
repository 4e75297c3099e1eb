package tui

import (
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// TestSnapshotFilterMatchesShownTime: the filter finds a snapshot by its
// time as the list shows it (in the App's zone), not as stored with the
// offset of the host that made it.
func TestSnapshotFilterMatchesShownTime(t *testing.T) {
	made := time.Date(2026, 3, 1, 23, 30, 0, 0, time.FixedZone("UTC+5", 5*3600))
	sn := &repo.Snapshot{Time: made, Host: "laptop", Source: "home"}
	p := newSnapshotsPage(time.UTC)
	p.all = []*repo.Snapshot{sn}
	for _, tc := range []struct {
		filter string
		want   int
	}{
		{"2026-03-01 18:30", 1}, // as shown in UTC
		{"2026-03-01 23:30", 0}, // as stored, in the maker's zone
	} {
		p.filter.value = tc.filter
		p.rebuild()
		if len(p.items) != tc.want {
			t.Errorf("filter %q: %d snapshots, want %d", tc.filter, len(p.items), tc.want)
		}
	}
}
