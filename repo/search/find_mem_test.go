package search

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Find holds the folders open on the way down, not the ones it has
// walked: over snapshots of a wide tree, its live heap stays far below
// what holding every tree it loads takes. (The trees of the folders
// already walked stayed referenced until their parent's walk ended: the
// heap grew by 28 MB here, more than all the trees take at once.)
func TestFindForgetsWalkedFolders(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	const dirs, files, nsnap = 300, 300, 20
	var sub []*tree.Node
	for i := 0; i < dirs; i++ {
		var fs []*tree.Node
		for j := 0; j < files; j++ {
			fs = append(fs, &tree.Node{Name: fmt.Sprintf("file-with-a-longish-name-%d-%05d", i, j), Kind: tree.KindFile, Mode: 0o644})
		}
		tid, err := s.SaveTree(fs)
		if err != nil {
			t.Fatal(err)
		}
		sub = append(sub, &tree.Node{Name: fmt.Sprintf("d%05d", i), Kind: tree.KindDir, Mode: 0o755, Subtree: tid})
	}
	var snaps []*repo.Snapshot
	for k := 0; k < nsnap; k++ {
		nodes := append(append([]*tree.Node(nil), sub...), &tree.Node{Name: fmt.Sprintf("z%03d", k), Kind: tree.KindFile, Mode: 0o644})
		root, err := s.SaveTree(nodes)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, &repo.Snapshot{Tree: root, Time: time.Unix(int64(k), 0)})
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	// What holding every subfolder's tree takes.
	base := liveHeap()
	var all [][]*tree.Node
	for _, n := range sub {
		nodes, err := r.LoadTree(ctx, n.Subtree)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, nodes)
	}
	whole := liveHeap() - base
	runtime.KeepAlive(all)
	all = nil

	base = liveHeap()
	var peak uint64
	n := 0
	err := Find(ctx, r, snaps, "*", FindOptions{}, func(res Result) error {
		if n++; n%10000 == 0 {
			peak = max(peak, liveHeap()-min(base, liveHeap()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != dirs*files+dirs+nsnap {
		t.Fatalf("%d results, want %d", n, dirs*files+dirs+nsnap)
	}
	if peak > whole/4 {
		t.Errorf("Find's live heap grew by %d KiB while walking; every folder's tree takes %d KiB", peak>>10, whole>>10)
	}
}
