package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
)

// Counts read as English: "1 snapshot", "3 snapshots", never "(s)".
func TestPlurals(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.keys("enter", "down", "enter", "v") // versions of /home/alice/docs/notes.txt
	h.contains("1 snapshot\n", "2 snapshots until")
	noS := func() {
		t.Helper()
		if s := h.screen(); strings.Contains(s, "(s)") {
			t.Errorf("a count with (s):\n%s", s)
		}
	}
	noS()
	h.keys("esc", "esc", "esc", "f")
	h.typeText("*.conf")
	h.keys("enter")
	h.contains("1 snapshot ")
	noS()
	h.keys("esc", "f")
	h.typeText("jpg")
	h.keys("enter")
	h.contains("3 snapshots ")
	noS()
}

// The versions page says whose version each line is: versions of one
// path from several hosts or sources interleave in time.
func TestVersionsShowHostAndSource(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.keys("enter", "down", "enter", "v")
	h.contains("HOST · SOURCE", "laptop · home")
}

// On a narrow terminal the snapshot list keeps the paths readable: the
// tags column gives way.
func TestNarrowSnapshotListKeepsPaths(t *testing.T) {
	h := newHarness(t, newFixture(t), 80, 24)
	h.contains(" /home/alice", " /etc")
	for _, l := range strings.Split(h.screen(), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80: %q", l)
		}
	}
}

// On a narrow screen a search result drops its time span before its path,
// and a path that still does not fit keeps its end, the name that matched:
// cut at the right, every result of a deep tree read "/home/ali…" alike.
func TestSearchNarrowKeepsMatchedName(t *testing.T) {
	h := newHarness(t, newFixture(t), 64, 20)
	h.keys("f")
	h.typeText("*.jpg")
	h.keys("enter")
	h.contains("+ /home/alice/photos/a.jpg   ", "+ /home/alice/photos/c.jpg   ", "2 snapshots\n")
	h.send(teaSize(40, 20))
	h.contains("+ …ome/alice/photos/a.jpg  3 snapshots", "+ …ome/alice/photos/c.jpg  2 snapshots")
}

// A snapshot's paths, tags, host and source are escaped like names: a
// folder ingested with a line feed in its name split its row in two and
// moved every row under it, and an escape sequence restyled the screen.
func TestSnapshotListEscapesPaths(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	b := &builder{tb: t, r: r, s: r.NewSaver(ctx, 1)}
	root := b.root(b.file("f", []byte("x"), 0o644, at(1, 1)))
	if err := b.s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: at(1, 2), Tree: root, Paths: []string{"/srv/odd\x1b[7mINV\nx"}, Host: "h\x1b[1m", Source: "s", Tags: []string{"t\nu"}}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, &fixture{r: r, snaps: []*repo.Snapshot{sn}}, 120, 30)
	v := h.a.View()
	if strings.Contains(v, "\x1b") || strings.Count(v, "\n") != 29 {
		t.Errorf("drawn raw (%d lines):\n%q", strings.Count(v, "\n")+1, v)
	}
	h.contains(`/srv/odd\x1b[7mINV\nx`, `t\nu`, `h\x1b[1m · s`)
}

// Narrower still, ADDED and then SIZE give their room to PATHS: at 60
// columns the columns before it left none, and every snapshot read the
// same whatever folder it was of.
func TestNarrowerSnapshotListDropsNumbersForPaths(t *testing.T) {
	h := newHarness(t, newFixture(t), 70, 24)
	h.contains("TAGS          SIZE  PATHS", "9.8 KiB  /home/alice", "40 B  /etc")
	h.send(teaSize(60, 24))
	h.contains("TAGS      PATHS", "  /home/alice\n", "  /etc\n")
	for _, l := range strings.Split(h.screen(), "\n") {
		if len([]rune(l)) > 60 {
			t.Errorf("line wider than 60: %q", l)
		}
	}
}
