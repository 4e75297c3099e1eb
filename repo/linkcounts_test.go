package repo_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// TestLinkCounts: recounting a snapshot's hardlink groups from its tree
// gives what ingest recorded: nothing for groups wholly inside, and the
// names inside for groups partly outside the ingested paths.
func TestLinkCounts(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	for _, d := range []string{"in", "out"} {
		os.Mkdir(filepath.Join(src, d), 0o755)
	}
	os.WriteFile(filepath.Join(src, "in", "a"), []byte("three names, two inside"), 0o644)
	os.Link(filepath.Join(src, "in", "a"), filepath.Join(src, "in", "a2"))
	os.Link(filepath.Join(src, "in", "a"), filepath.Join(src, "out", "a3"))
	os.WriteFile(filepath.Join(src, "in", "b"), []byte("two names, both inside"), 0o644)
	os.Link(filepath.Join(src, "in", "b"), filepath.Join(src, "in", "b2"))

	for _, tc := range []struct {
		paths  []string
		counts []uint32
	}{
		{[]string{filepath.Join(src, "in")}, []uint32{2}},
		{[]string{src}, nil},
	} {
		res, err := ingest.Run(ctx, r, ingest.Options{Paths: tc.paths, Host: "h", Source: "s"})
		if err != nil {
			t.Fatal(err)
		}
		sn := res.Snapshot
		var counts []uint32
		for _, l := range sn.Links {
			counts = append(counts, l.Count)
		}
		if !reflect.DeepEqual(counts, tc.counts) {
			t.Fatalf("ingest of %v recorded links %+v, want counts %v", tc.paths, sn.Links, tc.counts)
		}
		got, err := r.LinkCounts(ctx, sn.Tree)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, sn.Links) {
			t.Fatalf("LinkCounts of %v = %+v, ingest recorded %+v", tc.paths, got, sn.Links)
		}
	}
}
