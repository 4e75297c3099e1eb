package search

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Resolving a path through many snapshots of a wide folder that changes
// every time keeps what the path needs, not every folder's entries: a
// thousand snapshots of a 100,000-entry mail folder must not hold a
// hundred million nodes.
func TestTreeCacheKeepsOnlyThePath(t *testing.T) {
	const width, nsnaps = 4000, 25
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 2)
	must := func(tid id.ID, err error) id.ID {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tid
	}
	data := []byte("x")
	chunk := tree.Chunk{ID: r.Codec().IDFor(id.DataBlob, data), Size: 1}
	if _, err := s.Save(id.DataBlob, chunk.ID, data); err != nil {
		t.Fatal(err)
	}
	wide := make([]*tree.Node, width)
	for i := range wide {
		wide[i] = &tree.Node{Name: fmt.Sprintf("m%06d.eml", i), Kind: tree.KindFile, Mode: 0o644, Size: 1, Content: []tree.Chunk{chunk}}
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var snaps []*repo.Snapshot
	for i := 0; i < nsnaps; i++ {
		wide[width-1].MTime = int64(i) // a new tree each time
		w := must(s.SaveTree(wide))
		root := must(s.SaveTree([]*tree.Node{{Name: "mail", Kind: tree.KindDir, Mode: 0o755, Subtree: w}}))
		snaps = append(snaps, &repo.Snapshot{Time: t0.Add(time.Duration(i) * time.Hour), Tree: root})
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tc := newTreeCache(r)
	for _, sn := range snaps {
		n, err := tc.resolve(ctx, sn, []string{"mail", "m000001.eml"})
		if err != nil || n == nil || n.Name != "m000001.eml" {
			t.Fatalf("resolve: %v %v", n, err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tc)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > 2<<20 {
		t.Errorf("the cache holds %d KiB after resolving one path in %d snapshots", held>>10, nsnaps)
	}
}
