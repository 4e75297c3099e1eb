package diff_test

import (
	"context"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
)

// The byte counts mean the same between two snapshots and against the
// live files: AddedBytes and RemovedBytes are the sizes of regular files
// added or removed entirely (inside added or removed folders too, and the
// file side of a type change); GrownBytes and ShrunkBytes add up the size
// changes of modified files.
func TestBytesSameMeaning(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	before(t, src)
	a := snap(t, r, src)
	after(t, src)
	b := snap(t, r, src)

	snaps, err := diff.Snapshots(ctx, r, a, b, src, src, diff.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	live, err := diff.Live(ctx, r, a, src, src, diff.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// added: "b" (1), "now a folder" (12); removed: "bye" (3), "x", "y"
	// (1 each), "a file first" (12); mod.txt grew from 11 to 19 bytes.
	want := [4]int64{13, 17, 8, 0}
	for name, s := range map[string]diff.Summary{"snapshots": snaps, "live": live} {
		if got := [4]int64{s.AddedBytes, s.RemovedBytes, s.GrownBytes, s.ShrunkBytes}; got != want {
			t.Errorf("%s: added, removed, grown, shrunk = %v, want %v", name, got, want)
		}
	}
	snaps.TreesLoaded, snaps.TreesSkipped, live.TreesLoaded, live.TreesSkipped = 0, 0, 0, 0
	if snaps != live {
		t.Errorf("summaries differ:\nsnapshots %+v\nlive      %+v", snaps, live)
	}
}
