package tui

import (
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
)

// A snapshot opens in its one path when that is a folder; in the folder
// above it, cursor on it, when it is a file or missing; in the deepest
// folder holding all its paths when it has several.
func TestSnapshotOpensInItsPath(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 100, 20)
	h.keys("enter") // the newest: /home/alice
	p := h.a.top().(*treePage)
	if p.dir != "/home/alice" || p.err != nil || len(p.nodes) != 4 || p.selected().Name != ".profile" {
		t.Fatalf("enter: dir %q (%v), %d entries", p.dir, p.err, len(p.nodes))
	}
	h.keys("h")
	if p.dir != "/home" || p.selected().Name != "alice" {
		t.Fatalf("up from the start: dir %q, cursor on %q", p.dir, p.selected().Name)
	}

	base := f.snaps[0]
	for _, c := range []struct {
		paths     []string
		dir, name string
	}{
		{[]string{"/home/alice/docs"}, "/home/alice/docs", "notes.txt"},
		{[]string{"/home/alice/docs/report.bin"}, "/home/alice/docs", "report.bin"}, // a file
		{[]string{"/home/alice/gone"}, "/home/alice", ".profile"},                   // missing
		{[]string{"/home/alice/docs", "/home/alice/photos"}, "/home/alice", ".profile"},
		{[]string{"/home/alice/photos/a.jpg", "/home/alice/photos/b.jpg"}, "/home/alice/photos", "a.jpg"},
	} {
		h.keys("esc")
		sn := &repo.Snapshot{ID: base.ID, Time: base.Time, Tree: base.Tree, Paths: c.paths, Host: base.Host, Source: base.Source}
		h.run(h.a.openSnapshot(sn))
		p := h.a.top().(*treePage)
		if p.dir != c.dir || p.err != nil || p.selected() == nil || p.selected().Name != c.name {
			name := ""
			if p.selected() != nil {
				name = p.selected().Name
			}
			t.Errorf("%v: opens in %q (%v) on %q, want %q on %q", c.paths, p.dir, p.err, name, c.dir, c.name)
		}
	}
}

// `cairn tui SNAP:PATH` naming a file opens its folder with the cursor on
// it, as a snapshot of one file opens; it showed "... is not a folder"
// in an empty tree. A missing path opens the folder above it and says so.
func TestSelectorOpensFileInItsFolder(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		sel, dir, name, status string
	}{
		{":/home/alice/docs/notes.txt", "/home/alice/docs", "notes.txt", ""},
		{":/home/alice/docs", "/home/alice/docs", "notes.txt", ""},
		{":/home/alice/gone", "/home/alice", ".profile", "not found"},
	} {
		h := newHarness(t, f, 100, 20)
		h.run(h.a.openSelector(f.snaps[3].ID.Short() + c.sel))
		p, ok := h.a.top().(*treePage)
		if !ok {
			t.Fatalf("%s: top page %T", c.sel, h.a.top())
		}
		if p.dir != c.dir || p.err != nil || p.selected() == nil || p.selected().Name != c.name {
			t.Errorf("%s: opens in %q (%v), want %q on %q", c.sel, p.dir, p.err, c.dir, c.name)
			continue
		}
		if c.status != "" && !strings.Contains(h.a.status, c.status) || c.status == "" && h.a.status != "" {
			t.Errorf("%s: status %q, want %q", c.sel, h.a.status, c.status)
		}
	}
}
