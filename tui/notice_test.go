package tui

import (
	"errors"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// The restore report shows the names in its failures, notices and errors
// exactly: two spaces stay two (before, every run of spaces became one,
// so the name shown was not the file's), and control characters are
// escaped as everywhere else in the TUI (an error's name was written raw,
// a terminal escape and all).
func TestRestoreReportShowsNamesExactly(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	sn := f.snaps[3]
	file := &tree.Node{Kind: tree.KindFile}
	p := &restorePage{stage: stageDone, jobs: []restoreJob{
		{sn: sn, path: "/home/alice/bad", node: file, dst: "/tmp/x/bad", done: true,
			err: errors.New("open /tmp/x/esc\x1b[2Jname: permission denied"), stats: &restore.Stats{Errors: 1}},
	}}
	p.report.failures = []string{"/tmp/x/two  spaces.txt: at offset 0: pack data/00/00: damaged"}
	p.report.notices = []string{"kept /tmp/x/three   spaces  : existing file is newer"}
	s := strings.Join(p.reportLines(h.a), "\n")
	for _, want := range []string{"/tmp/x/two  spaces.txt: at offset 0", "kept /tmp/x/three   spaces  : existing", `esc\x1b[2Jname`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\x1b") {
		t.Errorf("report holds a raw escape: %q", s)
	}
	// Broken over lines, the name is still whole, spaces and all.
	lines := wrapReport("failed to write /srv/a  b/c  d.txt: input/output error", 30, "  ")
	if joined := strings.Join(lines, "\n"); !strings.Contains(joined, "/srv/a  b/c  d.txt:") {
		t.Errorf("wrapped at 30 cells, the name is changed:\n%s", joined)
	}
}

// Esc while typing the snapshot list's filter shows every snapshot again
// with the cursor on the one it was on before /, not on the filter's
// match.
func TestSnapshotFilterEscapeRestoresCursor(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	p := h.a.stack[0].(*snapshotsPage)
	h.keys("j", "j")
	before := p.selected()
	var other *repo.Snapshot
	for _, sn := range f.snaps {
		if sn != before && sn.ID != before.ID {
			other = sn
			break
		}
	}
	h.keys("/")
	h.typeText(other.ID.Short())
	if sel := p.selected(); sel == nil || sel.ID != other.ID || len(p.items) != 1 {
		t.Fatalf("the filter did not select %s alone:\n%s", other.ID.Short(), h.screen())
	}
	h.keys("esc")
	if p.filter.active || len(p.items) != len(f.snaps) {
		t.Fatalf("esc left the filter open or the list short:\n%s", h.screen())
	}
	if sel := p.selected(); sel == nil || sel.ID != before.ID {
		t.Errorf("after esc the cursor is not back on %s:\n%s", before.ID.Short(), h.screen())
	}
}
