package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRewriteMountLinks: after rewrite removes names of a hardlink group,
// the mounted snapshot counts only the names left in nlink, and they are
// still one inode; the original keeps its counts.
func TestRewriteMountLinks(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	if err := os.WriteFile(filepath.Join(src, "one"), []byte("three names\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sub/two", "sub/three"} {
		if err := os.Link(filepath.Join(src, "one"), filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The whole group, and a snapshot holding two of its three names.
	c.ok("ingest", "--time", "2024-01-01T00:00:00Z", src)
	c.ok("ingest", "--time", "2024-01-02T00:00:00Z", filepath.Join(src, "sub"))
	c.ok("rewrite", "--exclude", "three")
	var snaps []snapshotJSON
	if err := json.Unmarshal([]byte(c.ok("snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 4 {
		t.Fatalf("%d snapshots, want 2 originals and 2 rewrites", len(snaps))
	}
	var originals []snapshotJSON // oldest first
	rewriteOf := map[string]snapshotJSON{}
	for _, sn := range snaps {
		if sn.Original == "" {
			originals = append(originals, sn)
		} else {
			rewriteOf[sn.Original] = sn
		}
	}
	if len(originals) != 2 || len(rewriteOf) != 2 {
		t.Fatalf("snapshots %+v: want 2 originals, each rewritten", snaps)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	c.startMount(mnt)
	stat := func(rel string) (*syscall.Stat_t, error) {
		var st syscall.Stat_t
		return &st, syscall.Lstat(filepath.Join(mnt, rel), &st)
	}
	for _, x := range []struct {
		snap  snapshotJSON
		names []string
		nlink uint64
	}{
		{originals[0], []string{"one", "sub/two", "sub/three"}, 3}, // of src
		{originals[1], []string{"two", "three"}, 2},                // of src/sub
		{rewriteOf[originals[0].ID], []string{"one", "sub/two"}, 2},
		{rewriteOf[originals[1].ID], []string{"two"}, 1},
	} {
		dir := filepath.Join("ids", x.snap.ShortID)
		var ino uint64
		for i, name := range x.names {
			st, err := stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("snapshot %s: %v", x.snap.ShortID, err)
			}
			if st.Nlink != x.nlink {
				t.Errorf("snapshot %s (%v): %s has nlink %d, want %d", x.snap.ShortID, x.snap.Tags, name, st.Nlink, x.nlink)
			}
			if i == 0 {
				ino = st.Ino
			} else if st.Ino != ino {
				t.Errorf("snapshot %s: %s is inode %d, not %d as %s", x.snap.ShortID, name, st.Ino, ino, x.names[0])
			}
		}
		if len(x.names) < 3 && x.snap.Original != "" {
			if _, err := stat(filepath.Join(dir, "sub/three")); err == nil {
				t.Errorf("snapshot %s still shows sub/three", x.snap.ShortID)
			}
			if _, err := stat(filepath.Join(dir, "three")); err == nil {
				t.Errorf("snapshot %s still shows three", x.snap.ShortID)
			}
		}
	}
}
