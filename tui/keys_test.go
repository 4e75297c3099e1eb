package tui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/search"
	"github.com/cairn-backup/cairn/repo/tree"
)

func TestQuitAndBack(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 100, 20)
	h.keys("enter")
	if _, ok := h.a.top().(*treePage); !ok {
		t.Fatalf("enter did not open the tree: %T", h.a.top())
	}
	h.keys("esc")
	if len(h.a.stack) != 1 || h.quit {
		t.Fatalf("esc: stack %d, quit %v", len(h.a.stack), h.quit)
	}
	h.keys("esc")
	if h.quit {
		t.Fatal("esc on the first page quit")
	}
	h.keys("q")
	if !h.quit {
		t.Fatal("q on the first page did not quit")
	}
}

func TestHelpOverlay(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 30)
	h.keys("enter", "?")
	h.contains("versions of the file in every snapshot", "everywhere")
	h.keys("j") // ignored while the help shows
	h.keys("?")
	if h.a.showHelp {
		t.Fatal("? did not close the help")
	}
	h.keys("?", "q")
	if h.a.showHelp || len(h.a.stack) != 2 {
		t.Fatal("q should close the help, not the page")
	}
}

func TestFilterTakesKeys(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 20)
	h.keys("/")
	h.typeText("q?etc")
	if h.quit || h.a.showHelp {
		t.Fatal("keys typed into the filter acted as commands")
	}
	h.keys("backspace", "backspace", "backspace", "backspace", "backspace")
	h.typeText("etc")
	h.keys("enter")
	p := h.a.top().(*snapshotsPage)
	if len(p.items) != 1 || p.items[0].Host != "server" {
		t.Fatalf("filter etc: %d items", len(p.items))
	}
	h.keys("esc") // clears the filter first
	if len(p.items) != 4 || h.quit {
		t.Fatalf("esc did not clear the filter: %d items", len(p.items))
	}
}

func TestSortAndReverse(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 20)
	p := h.a.top().(*snapshotsPage)
	if p.items[0].ID != h.f.snaps[3].ID {
		t.Fatal("newest laptop snapshot is not first")
	}
	h.keys("r")
	if p.items[0].ID != h.f.snaps[0].ID {
		t.Fatal("r did not put the oldest first")
	}
	h.keys("o", "o", "r") // added, largest first
	if p.items[0].ID != h.f.snaps[0].ID {
		t.Fatal("sort by data added")
	}
}

func TestTreeNavigation(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 20)
	h.keys("enter", "down", "down", "down", "enter")
	p := h.a.top().(*treePage)
	if p.dir != "/home/alice/photos" {
		t.Fatalf("dir %q", p.dir)
	}
	h.keys("h")
	if p.dir != "/home/alice" || p.selected().Name != "photos" {
		t.Fatalf("back up: dir %q, cursor on %q", p.dir, p.selected().Name)
	}
	h.keys("G")
	if p.selected().Name != "photos" {
		t.Fatal("G")
	}
	h.keys("g", "/")
	h.typeText("do")
	h.keys("enter", "enter")
	if p.dir != "/home/alice/docs" {
		t.Fatalf("filtered enter: dir %q", p.dir)
	}
	h.keys("left", "tab")
	if !p.noPane {
		t.Fatal("tab did not hide the pane")
	}
}

func TestOpenSnapshotOption(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 100, 20)
	h.a.opt.Snapshot = f.snaps[0].ID.Short() + ":/home/alice/docs"
	h.send(snapshotsLoaded{snaps: f.snaps}) // as the first load delivers
	h.a.stack[0].(*snapshotsPage).update(h.a, snapshotsLoaded{snaps: f.snaps})
	p, ok := h.a.top().(*treePage)
	if !ok {
		t.Fatalf("top page %T", h.a.top())
	}
	h.run(p.enter(h.a, "/home/alice/docs", ""))
	if p.sn.ID != f.snaps[0].ID || len(p.nodes) != 2 {
		t.Fatalf("opened %s with %d entries", p.dir, len(p.nodes))
	}
}

// TestOpenSnapshotOptionNoPath: "cairn tui ID" opens the tree where
// enter on the list opens it, in the folder the snapshot holds, not at /.
func TestOpenSnapshotOptionNoPath(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 100, 20)
	h.a.opt.Snapshot = f.snaps[0].ID.String()
	h.run(h.a.stack[0].(*snapshotsPage).update(h.a, snapshotsLoaded{snaps: f.snaps}))
	p, ok := h.a.top().(*treePage)
	if !ok {
		t.Fatalf("top page %T", h.a.top())
	}
	if p.sn.ID != f.snaps[0].ID || p.dir != "/home/alice" {
		t.Fatalf("opened %s in %q, want /home/alice", p.sn.ID.Short(), p.dir)
	}
}

func TestSearchOpensTree(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 20)
	h.keys("f")
	h.typeText("*.conf")
	h.keys("enter")
	h.contains("/etc/nginx/nginx.conf")
	h.keys("down", "enter") // the only result is expanded: open its snapshot
	p, ok := h.a.top().(*treePage)
	if !ok || p.dir != "/etc/nginx" || p.selected().Name != "nginx.conf" {
		t.Fatalf("search enter: %T", h.a.top())
	}
}

func TestVersionsPage(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 20)
	h.keys("enter", "down", "enter", "v")
	p := h.a.top().(*versionsPage)
	if len(p.versions) != 2 || p.selected().Snapshot.ID != h.f.snaps[1].ID {
		t.Fatalf("%d versions", len(p.versions))
	}
	h.keys("k", "enter")
	pv := h.a.top().(*previewPage)
	if string(pv.data) != "Shopping list\n\t- bread\n\t- milk\n" {
		t.Fatalf("first version reads %q", pv.data)
	}
}

func TestDiffKindFilterAndMark(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 24)
	h.keys("down", "down", "space", "home", "d")
	p := h.a.top().(*diffPage)
	h.keys("tab", "tab") // removed only
	if len(p.rows) == 0 || p.rows[len(p.rows)-1].name != "report.bin" {
		t.Fatalf("removed filter rows: %d", len(p.rows))
	}
	h.keys("G", "space")
	if !h.a.marks.has(h.f.snaps[0], "/home/alice/docs/report.bin") {
		t.Fatal("space in the diff did not mark the removed file in the old snapshot")
	}
}

// TestMarkAndRestore marks two files and a folder in two places of the
// tree, restores them into a folder and checks bytes and modes.
func TestMarkAndRestore(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	dst := filepath.Join(t.TempDir(), "out")
	h.keys("enter")               // /home/alice of the newest
	h.keys("space")               // .profile
	h.keys("enter", "space", "h") // docs/notes.txt
	h.keys("G", "space")          // photos/
	if h.a.marks.count() != 3 {
		t.Fatalf("%d marks", h.a.marks.count())
	}
	h.keys("R", "right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("enter")
	h.contains("Restore finished in", "restored     /home/alice/docs/notes.txt", "5 files, 2 folders", "esc closes") // photos/ and docs/ above notes.txt
	check := func(rel string, want []byte, mode os.FileMode) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %q", rel, got)
		}
		fi, _ := os.Stat(filepath.Join(dst, rel))
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v", rel, fi.Mode())
		}
	}
	check(".profile", []byte("export EDITOR=vi\n"), 0o600)
	check("docs/notes.txt", []byte("Shopping list\n\t- bread\n\t- milk\n\t- coffee\n"), 0o644)
	if _, err := os.Stat(filepath.Join(dst, "docs", "report.bin")); err == nil {
		t.Error("an unmarked file was restored")
	}
	for _, n := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		if _, err := os.Stat(filepath.Join(dst, "photos", n)); err != nil {
			t.Error(err)
		}
	}
	if h.a.marks.count() != 0 {
		t.Error("marks were not cleared after a clean restore")
	}
	h.keys("esc")
	if _, ok := h.a.top().(*treePage); !ok {
		t.Fatalf("esc after the report: %T", h.a.top())
	}
}

func TestRestorePlanHelpers(t *testing.T) {
	if got := commonDir("/home/alice/docs", "/home/alice/photos"); got != "/home/alice" {
		t.Error(got)
	}
	if got := commonDir("/a", "/b/c"); got != "/" {
		t.Error(got)
	}
}

func TestContentRendering(t *testing.T) {
	if !isText([]byte("héllo\tworld\n")) || isText([]byte{0, 1, 2}) || isText([]byte("a\x1bb")) {
		t.Error("isText")
	}
	if !isText([]byte("h\xc3")) { // cut inside a character
		t.Error("isText at a cut")
	}
	if got := hexDump([]byte("AB\x00"), 16, 8); got != "00000000: 4142 00                                  AB.\n" {
		t.Errorf("%q", got)
	}
}

// The head of a file keeps only the bytes asked for, not the whole first
// chunk: the tree page holds the heads of every file it showed.
func TestReadHeadKeepsOnlyTheHead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n, _, err := restore.Find(ctx, f.r, f.snaps[0], "/home/alice/docs/report.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := readHead(ctx, f.r, n, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 10 || cap(b) >= int(n.Size) {
		t.Fatalf("head of %d bytes holds len %d cap %d", n.Size, len(b), cap(b))
	}
}

// Runes that arrive together ("jjj" while j is held) are keys, one at a
// time; once a key opens a field, the rest is typed into it.
func TestBundledRunesAreKeys(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.keys("enter") // /home/alice: .profile docs link photos
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jj")})
	p := h.a.top().(*treePage)
	if n := p.selected(); n == nil || n.Name != "link" {
		t.Fatalf("jj moved to %v, want link", n)
	}
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("g/doc")})
	if !p.filter.active || p.filter.value != "doc" {
		t.Fatalf("g/doc: filter %+v", p.filter)
	}
}

// M clears one mark at once, but asks before clearing several.
func TestClearMarksAsks(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	h.keys("enter", "space", "space")
	h.keys("M")
	if h.a.marks.count() != 2 {
		t.Fatal("M cleared several marks without asking")
	}
	h.contains("clear 2 marks? y/n")
	h.keys("n")
	if h.a.marks.count() != 2 {
		t.Fatal("n cleared the marks")
	}
	if _, ok := h.a.top().(*treePage); !ok || h.quit {
		t.Fatal("the answer acted as a key")
	}
	h.keys("M", "y")
	if h.a.marks.count() != 0 {
		t.Fatal("y did not clear the marks")
	}
	h.keys("space", "M")
	if h.a.marks.count() != 0 {
		t.Fatal("M did not clear a single mark at once")
	}
}

// Versions opens on the version of the snapshot the user came from.
func TestVersionsOpenOnTheSnapshotFrom(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.run(h.a.openTree(f.snaps[0], "/home/alice/docs", "notes.txt"))
	h.keys("v")
	p := h.a.top().(*versionsPage)
	if v := p.selected(); v == nil || v.Snapshot.ID != f.snaps[0].ID {
		t.Fatalf("versions opened on %v, want the first version", v)
	}
}

// Without a version of its own snapshot, the list opens on the newest of
// the same host and source, not another host's.
func TestVersionsPreferSameHostAndSource(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	snap := func(host string, day int) *repo.Snapshot {
		return &repo.Snapshot{Host: host, Source: "home", Time: at(day, 1)}
	}
	a, b, from := snap("laptop", 1), snap("server", 2), snap("laptop", 3)
	vs := []search.Version{{Snapshot: a, Last: a, Node: &tree.Node{}}, {Snapshot: b, Last: b, Node: &tree.Node{}}}
	for _, c := range []struct {
		from *repo.Snapshot
		want int
	}{{from, 0}, {a, 0}, {b, 1}, {snap("desk", 4), 1}, {nil, 1}} {
		p := &versionsPage{path: "/x", from: c.from, loading: true}
		p.update(h.a, versionsLoaded{versions: vs})
		if p.cur.pos != c.want {
			t.Errorf("from %v: on version %d, want %d", c.from, p.cur.pos, c.want)
		}
	}
}

// The diff's help names every key it takes.
func TestDiffHelpNamesShiftTab(t *testing.T) {
	var keys []string
	for _, b := range (&diffPage{}).help() {
		keys = append(keys, b.keys)
	}
	if !strings.Contains(strings.Join(keys, " "), "shift+tab") {
		t.Errorf("diff help keys: %q", keys)
	}
}

// ctrl+r reloads the list as new copies of the snapshots: the two picked
// for a diff stay picked (and labelled), and the cursor stays on its
// snapshot. The labels vanished and the cursor went to the top, while d
// still compared the picks nobody could see any more.
func TestReloadKeepsPicksAndCursor(t *testing.T) {
	h := newHarness(t, newFixture(t), 100, 20)
	p := h.a.top().(*snapshotsPage)
	h.keys("space", "down", "down", "space", "up") // pick the newest and the oldest laptop snapshots
	want := p.selected().ID
	h.keys("ctrl+r")
	if got := p.selected(); got == nil || got.ID != want {
		t.Fatalf("cursor after reload on %v, want %v", got, want)
	}
	labels := ""
	for _, sn := range p.items {
		labels += p.pickLabel(sn)
	}
	if labels != "A B " {
		t.Errorf("pick labels after reload %q, want %q", labels, "A B ")
	}
	h.keys("d")
	d, ok := h.a.top().(*diffPage)
	if !ok || d.old.ID != h.f.snaps[0].ID || d.new.ID != h.f.snaps[3].ID {
		t.Fatalf("diff after reload: %T", h.a.top())
	}
}

// q with marks asks before quitting: a second q quits, any other key
// stays (and does nothing else); ctrl+c quits at once.
func TestQuitWithMarksAsks(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	h.keys("enter", "space", "space", "esc", "q")
	if h.quit {
		t.Fatal("q with marks quit without asking")
	}
	h.contains("2 marked entries will be lost: q again to quit, any other key to stay")
	h.keys("enter")
	if h.quit || h.a.marks.count() != 2 || len(h.a.stack) != 1 {
		t.Fatalf("enter after the question: quit %v, marks %d, stack %d", h.quit, h.a.marks.count(), len(h.a.stack))
	}
	if strings.Contains(h.screen(), "will be lost") {
		t.Fatal("the question stayed after another key")
	}
	h.keys("q", "q")
	if !h.quit {
		t.Fatal("q twice with marks did not quit")
	}

	h = newHarness(t, newFixture(t), 120, 30)
	h.keys("enter", "space", "esc", "ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c with marks did not quit at once")
	}
}

// noCut fails if a line of the screen below the title was cut ("…").
func noCut(t *testing.T, screen string) {
	t.Helper()
	for _, l := range strings.Split(screen, "\n")[1:] {
		if strings.Contains(l, "…") {
			t.Fatalf("a line was cut: %q\n%s", l, screen)
		}
	}
}

// On a 30-column terminal the help wraps instead of losing text.
func TestHelpNarrow(t *testing.T) {
	h := newHarness(t, newFixture(t), 30, 70)
	h.keys("enter", "?")
	s := h.screen()
	noCut(t, s)
	for _, b := range append(h.a.top().help(), globalKeys...) {
		for _, word := range strings.Fields(b.keys + " " + b.help) {
			if !strings.Contains(s, word) {
				t.Fatalf("the help lacks %q:\n%s", word, s)
			}
		}
	}
}

// On a 30-column terminal the restore dialog wraps: every field, entry
// and the key hint stay whole.
func TestRestoreDialogNarrow(t *testing.T) {
	h := newHarness(t, newFixture(t), 30, 30)
	h.keys("enter", "space", "space", "R", "right", "tab")
	noCut(t, h.screen())
	h.contains("/home/alice/.profile", "original", "location", "folder", "if-changed", "always", "never",
		"[ Start restore ]", "esc cancels", "Folder:")
}

// On a screen both narrow and short the help scrolls: it says so, j/k
// and G/g move it, and every word of it can be brought into view.
func TestHelpShortScrolls(t *testing.T) {
	h := newHarness(t, newFixture(t), 30, 16)
	h.keys("enter", "?")
	first := h.screen()
	if !strings.Contains(first, "j/k scroll") {
		t.Fatalf("a help that does not fit says nothing of scrolling:\n%s", first)
	}
	seen := first
	for range 100 {
		h.keys("j")
		s := h.screen()
		noCut(t, s)
		seen += s
	}
	for _, b := range append(h.a.top().help(), globalKeys...) {
		for _, word := range strings.Fields(b.keys + " " + b.help) {
			if !strings.Contains(seen, word) {
				t.Fatalf("scrolling never shows %q of the help", word)
			}
		}
	}
	if !strings.Contains(h.screen(), "clear all marks") {
		t.Fatalf("j held down does not stop at the help's end:\n%s", h.screen())
	}
	h.keys("g")
	if h.screen() != first {
		t.Fatalf("g does not return to the help's start:\n%s", h.screen())
	}
	h.keys("G", "?")
	if strings.Contains(h.screen(), "j/k scroll") {
		t.Fatalf("? does not close the scrolled help:\n%s", h.screen())
	}
	h.keys("?")
	if h.screen() != first {
		t.Fatalf("the help opens scrolled where it was left:\n%s", h.screen())
	}
}

// The preview of a binary file larger than its hex dump says how much
// it shows, as a long text file's does: the dump of a 100 MiB file
// ended at 0000fff0 with nothing to tell it was not the end.
func TestPreviewHexSaysItIsCut(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	b := &builder{tb: t, r: r, s: r.NewSaver(ctx, 1)}
	data := make([]byte, 100<<10)
	for i := range data {
		data[i] = byte(i)
	}
	root := b.root(b.file("big.bin", data, 0o644, at(1, 1)), b.file("small.bin", data[:300], 0o644, at(1, 1)))
	if err := b.s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: at(1, 2), Tree: root, Paths: []string{"/"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, &fixture{r: r, snaps: []*repo.Snapshot{sn}}, 120, 30)
	h.keys("enter", "enter", "G")
	h.contains("0000fff0: ", "… first 64.0 KiB of 100 KiB shown")
	h.keys("esc", "down", "enter", "G")
	if s := h.screen(); strings.Contains(s, "shown") || !strings.Contains(s, "00000120: ") {
		t.Errorf("a whole small file is not cut:\n%s", s)
	}
}

// space on a collapsed search result marks the path in its newest
// snapshot, whose row is hidden: the path's row shows the mark, as the
// tree and the diff do (nothing on screen said anything was marked).
func TestSearchMarkShowsOnCollapsedPath(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	h.keys("f")
	h.typeText("*.jpg")
	h.keys("enter", "space")
	h.contains("  +*/home/alice/photos/a.jpg", "> + /home/alice/photos/b.jpg")
	h.keys("up", "space")
	if s := h.screen(); strings.Contains(s, "+*") {
		t.Errorf("unmarked, the path still shows a mark:\n%s", s)
	}
}

// Each list lets the cursor reach the last row it draws before it
// scrolls, and one more step scrolls by one row (it used to scroll a row
// early, or a whole screen late in the restore report).
func TestCursorReachesLastRowDrawn(t *testing.T) {
	check := func(t *testing.T, h *harness, cur *cursor, rows int) {
		t.Helper()
		listH := h.a.listHeight()
		if rows <= listH {
			t.Fatalf("only %d rows for a list %d rows high", rows, listH)
		}
		for i := 0; i < listH-1; i++ {
			h.keys("down")
		}
		if cur.pos != listH-1 || cur.top != 0 {
			t.Fatalf("after %d downs: cursor %d, top %d; want %d, 0", listH-1, cur.pos, cur.top, listH-1)
		}
		scr := h.screen()
		lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
		// The cursor is on the body's last list row: above the status line.
		if body := lines[:len(lines)-1]; len(body) != h.a.bodyHeight()+1 || !strings.HasPrefix(body[len(body)-1], "> ") {
			t.Fatalf("the cursor is not on the last row drawn:\n%s", scr)
		}
		h.keys("down")
		if cur.top != 1 {
			t.Fatalf("one more down: top %d, want 1", cur.top)
		}
	}
	t.Run("search", func(t *testing.T) {
		h := newHarness(t, newFixture(t), 100, 8)
		h.keys("f")
		h.typeText("*")
		h.keys("enter")
		p := h.a.top().(*searchPage)
		check(t, h, &p.cur, len(p.rows))
	})
	t.Run("tree", func(t *testing.T) {
		h := newHarness(t, newFixture(t), 100, 7)
		h.keys("enter")
		p := h.a.top().(*treePage)
		check(t, h, &p.cur, len(p.vis))
	})
	t.Run("diff", func(t *testing.T) {
		h := newHarness(t, newFixture(t), 100, 7)
		h.keys("down", "down", "space", "home", "d")
		p := h.a.top().(*diffPage)
		h.keys("home") // it opens on its first change
		check(t, h, &p.cur, len(p.rows))
	})
	t.Run("versions", func(t *testing.T) {
		h := newHarness(t, newFixture(t), 100, 6)
		h.keys("enter", "down", "enter", "v")
		p := h.a.top().(*versionsPage)
		// The fixture has two versions: repeat them to fill the list.
		p.versions = append(p.versions, append(p.versions, p.versions...)...)
		p.cur = cursor{}
		check(t, h, &p.cur, len(p.versions))
	})
	t.Run("restore report", func(t *testing.T) {
		h := newHarness(t, newFixture(t), 100, 10)
		p := &restorePage{stage: stageDone}
		for i := range 40 {
			p.report.failures = append(p.report.failures, fmt.Sprintf("/tmp/x/f%02d: damaged", i))
		}
		h.a.push(p, nil)
		first := h.screen()
		h.keys("down")
		if p.cur.top != 1 || h.screen() == first {
			t.Fatalf("down does not scroll the report (top %d)", p.cur.top)
		}
		h.keys("end")
		if !strings.Contains(h.screen(), "/tmp/x/f39") {
			t.Fatalf("end does not show the report's last line:\n%s", h.screen())
		}
	})
}

// TestSearchSeesNewSnapshots: a snapshot an ingest commits while the
// browser is open is found by a search of all snapshots, and the versions
// of a file count it, without ctrl+r first.
func TestSearchSeesNewSnapshots(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 100, 20)
	sn := &repo.Snapshot{Time: at(4, 9), Tree: f.snaps[2].Tree, Paths: []string{"/etc"}, Host: "server2", Source: "etc"}
	if err := f.r.SaveSnapshot(context.Background(), sn); err != nil {
		t.Fatal(err)
	}
	h.keys("f")
	h.typeText("hosts")
	h.keys("enter")
	p := h.a.top().(*searchPage)
	if len(p.results) != 1 || len(p.results[0].Hits) != 2 {
		t.Fatalf("search of all snapshots missed the new one:\n%s", h.a.View())
	}
	if n := len(h.a.allSnapshots()); n != 5 {
		t.Fatalf("the list holds %d snapshots after the search, want 5", n)
	}
	if err := f.r.SaveSnapshot(context.Background(), &repo.Snapshot{Time: at(5, 9), Tree: f.snaps[2].Tree, Paths: []string{"/etc"}, Host: "server3", Source: "etc"}); err != nil {
		t.Fatal(err)
	}
	h.keys("v")
	v := h.a.top().(*versionsPage)
	if len(v.versions) != 3 {
		t.Fatalf("%d versions, want 3 (one per host):\n%s", len(v.versions), h.a.View())
	}
}

// On a 40x10 terminal the restore dialog with its folder field was cut at
// the bottom: "never" and "[ Start restore ]" were not on the screen, so
// that ←/→ could pick a choice no one saw. The fields stay whole; the
// title, the entries and the hint give way. Run from a deep working
// directory, the default folder wrapped onto a second line and pushed
// "[ Start restore ]" off: a folder not being changed keeps its end on
// one line.
func TestRestoreDialogShortKeepsFields(t *testing.T) {
	deep := filepath.Join(t.TempDir(), "a-working-directory-deep-enough", "to-wrap-on-a-narrow-screen")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(deep)
	for _, size := range [][2]int{{40, 10}, {40, 8}, {30, 9}} {
		h := newHarness(t, newFixture(t), size[0], size[1])
		h.keys("enter", "space", "space", "R", "right")
		h.contains("Where:", "folder", "Folder:", "Existing:", "if-changed", "always", "never", "[ Start restore ]")
	}
	// Shorter than the fields: the one being changed is on the screen.
	h := newHarness(t, newFixture(t), 40, 6)
	h.keys("enter", "space", "space", "R", "right")
	h.contains("Where:")
	h.keys("tab")
	h.contains("restored▏")
	h.keys("tab")
	h.contains("Existing:", "never")
	h.keys("tab")
	h.contains("[ Start restore ]")
}
