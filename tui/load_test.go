package tui

import (
	"bytes"
	"context"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A folder total counts each hardlink group once, as du does: names of
// one file in one folder, or in two folders below it.
func TestFolderTotalCountsHardlinksOnce(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	b := &builder{tb: t, r: r, s: r.NewSaver(ctx, 1)}
	data := bytes.Repeat([]byte("x"), 1000)
	link := func(name string, ino uint64, links uint32) *tree.Node {
		n := b.file(name, data, 0o644, at(1, 1))
		n.Dev, n.Inode, n.Links = 7, ino, links
		return n
	}
	a := b.dir("a", at(1, 1), link("x1", 1, 2), link("x2", 1, 2), link("y", 2, 2), b.file("plain", data[:10], 0o644, at(1, 1)))
	c := b.dir("c", at(1, 1), link("y", 2, 2), link("z", 3, 3))
	d := b.dir("d", at(1, 1), link("z", 3, 3))
	root := b.root(a, c, d)
	if err := b.s.Flush(); err != nil {
		t.Fatal(err)
	}
	sc := newSizeCache()
	for _, x := range []struct {
		name         string
		tid          id.ID
		bytes, files int64
	}{
		{"root", root, 3010, 4}, // x, y, z once each, and plain
		{"a", a.Subtree, 2010, 3},
		{"c", c.Subtree, 2000, 2},
		{"d", d.Subtree, 1000, 1},
	} {
		got, err := sc.total(ctx, r, x.tid)
		if err != nil {
			t.Fatal(err)
		}
		if got.bytes != x.bytes || got.files != x.files {
			t.Errorf("%s: %d bytes in %d files, want %d in %d", x.name, got.bytes, got.files, x.bytes, x.files)
		}
		if s, ok := sc.get(x.tid); !ok || s != x.bytes {
			t.Errorf("%s: cached %d, %v", x.name, s, ok)
		}
	}
}

// A folder holding an entry that does not decode (a crafted or damaged
// tree) is listed without it, and the status line names what was left out.
func TestBrowseFolderWithInvalidEntry(t *testing.T) {
	f := newFixture(t)
	sn := f.r.TestAddEntries(t, f.snaps[0], &tree.Node{Name: "..", Kind: tree.KindFile, Mode: 0o644})
	h := newHarness(t, f, 100, 20)
	h.run(h.a.openTree(sn, "/home/alice", ""))
	p := h.a.top().(*treePage)
	if p.err != nil || len(p.nodes) != 4 {
		t.Fatalf("listing: %v, %d entries; want the folder's 4 good ones", p.err, len(p.nodes))
	}
	h.contains("docs", "photos", "invalid name")
}
