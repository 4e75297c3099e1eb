package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// TestStats: original, stored and unique sizes add up as a borg user
// expects, with duplicates and hardlinks counted once in stored data.
func TestStats(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, compressible
	os.WriteFile(filepath.Join(src, "a"), big, 0o644)
	os.WriteFile(filepath.Join(src, "copy-of-a"), big, 0o644)
	os.Link(filepath.Join(src, "a"), filepath.Join(src, "link-to-a"))
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "small"), []byte("small file"), 0o644)
	ingestOne := func() *repo.Snapshot {
		res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Snapshot
	}
	s1 := ingestOne()
	os.WriteFile(filepath.Join(src, "d", "new"), bytes.Repeat([]byte{7}, 5000), 0o644)
	s2 := ingestOne()

	all := []*repo.Snapshot{s1, s2}
	per, total, err := r.Stats(ctx, all, all, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := per[0], per[1]
	wantOrig := int64(2*len(big) + len("small file"))
	if a.Files != 3 || a.OriginalBytes != wantOrig {
		t.Errorf("snapshot 1: %d files, %d bytes; want 3 files (hardlink once), %d bytes", a.Files, a.OriginalBytes, wantOrig)
	}
	if b.Files != 4 || b.OriginalBytes != wantOrig+5000 {
		t.Errorf("snapshot 2: %d files, %d bytes", b.Files, b.OriginalBytes)
	}
	// The copy is deduplicated and the data compresses: stored is far
	// below the original.
	if a.StoredBytes <= 0 || a.StoredBytes*4 > a.OriginalBytes {
		t.Errorf("snapshot 1 stored %d bytes of %d", a.StoredBytes, a.OriginalBytes)
	}
	// What only snapshot 2 has: the new file's blob and the trees that
	// changed; what only snapshot 1 has: its own trees.
	if b.UniqueBytes <= a.UniqueBytes || b.UniqueBytes >= b.StoredBytes {
		t.Errorf("unique bytes: snapshot 1 %d, snapshot 2 %d (stored %d)", a.UniqueBytes, b.UniqueBytes, b.StoredBytes)
	}
	if total.Snapshots != 2 || total.OriginalBytes != a.OriginalBytes+b.OriginalBytes {
		t.Errorf("repository: %+v", total)
	}
	if total.StoredBytes >= a.StoredBytes+b.StoredBytes || total.StoredBytes < b.StoredBytes {
		t.Errorf("repository stored %d; snapshots %d and %d share most of it", total.StoredBytes, a.StoredBytes, b.StoredBytes)
	}
	if total.UnusedBytes != 0 || total.Packs == 0 || total.TotalBytes < total.StoredBytes {
		t.Errorf("repository: %+v", total)
	}
	if total.RawBytes <= total.StoredBytes {
		t.Errorf("compression: raw %d, stored %d", total.RawBytes, total.StoredBytes)
	}
}

// TestStatsReadsSharedTreesOnce: stats of one snapshot needs every
// snapshot (for unique bytes), and snapshots share nearly all their
// trees. Each distinct tree is read once, not once per snapshot: with
// twenty snapshots "cairn stats latest" took twenty full walks.
func TestStatsReadsSharedTreesOnce(t *testing.T) {
	ctx := context.Background()
	be := backendtest.Count(mem.New())
	r := repo.TestRepositoryOn(t, be)
	src := t.TempDir()
	for i := range 20 {
		d := filepath.Join(src, fmt.Sprintf("d%02d", i))
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, "f"), []byte(fmt.Sprint("file ", i)), 0o644)
	}
	var all []*repo.Snapshot
	for i := range 10 {
		os.WriteFile(filepath.Join(src, "d00", "f"), []byte(fmt.Sprint("changed ", i)), 0o644)
		res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, res.Snapshot)
	}
	// Distinct trees: the 19 unchanged folders, and per snapshot the
	// changed folder and the folders above it.
	distinct := map[id.ID]bool{}
	for _, sn := range all {
		if err := r.Walk(ctx, sn, func(_ string, n *tree.Node) (bool, error) {
			if n.Kind == tree.KindDir && !n.Subtree.IsZero() {
				distinct[n.Subtree] = true
			}
			return true, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		distinct[sn.Tree] = true
	}
	before := be.Calls("load")
	per, total, err := r.Stats(ctx, all[len(all)-1:], all, nil)
	if err != nil {
		t.Fatal(err)
	}
	loads := be.Calls("load") - before
	if loads > len(distinct) {
		t.Errorf("stats of 10 snapshots read storage %d times for %d distinct trees", loads, len(distinct))
	}
	if per[0].Files != 20 || per[0].Dirs < 20 || total.Snapshots != 10 {
		t.Errorf("stats: %+v, %+v", per[0], total)
	}
}
