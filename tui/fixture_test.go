package tui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata")

// testdata is the package's testdata folder, found before a test changes
// its working folder.
var testdata = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata")
}()

// fixture is an in-memory repository with fixed snapshots: three of
// laptop · home and one of server · etc, at fixed times.
type fixture struct {
	r     *repo.Repository
	snaps []*repo.Snapshot // oldest first
}

func at(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, time.UTC) }

// builder writes blobs and trees through one saver.
type builder struct {
	tb testing.TB
	r  *repo.Repository
	s  *repo.Saver
}

func (b *builder) file(name string, data []byte, mode uint32, mtime time.Time, xattrs ...tree.Xattr) *tree.Node {
	n := &tree.Node{Name: name, Kind: tree.KindFile, Mode: mode, UID: 1000, GID: 1000, User: "alice", Group: "users",
		MTime: mtime.UnixNano(), ATime: mtime.UnixNano(), CTime: mtime.UnixNano(), Size: uint64(len(data)), Links: 1, Xattrs: xattrs}
	if len(data) > 0 {
		bid := b.r.Codec().IDFor(id.DataBlob, data)
		if _, err := b.s.Save(id.DataBlob, bid, data); err != nil {
			b.tb.Fatal(err)
		}
		n.Content = []tree.Chunk{{ID: bid, Size: uint64(len(data))}}
	}
	return n
}

func (b *builder) dir(name string, mtime time.Time, children ...*tree.Node) *tree.Node {
	tree.Sort(children)
	tid, err := b.s.SaveTree(children)
	if err != nil {
		b.tb.Fatal(err)
	}
	return &tree.Node{Name: name, Kind: tree.KindDir, Mode: 0o755, UID: 1000, GID: 1000, User: "alice", Group: "users",
		MTime: mtime.UnixNano(), ATime: mtime.UnixNano(), Subtree: tid}
}

func (b *builder) link(name, target string, mtime time.Time) *tree.Node {
	return &tree.Node{Name: name, Kind: tree.KindSymlink, Mode: 0o777, UID: 1000, GID: 1000, User: "alice", Group: "users",
		MTime: mtime.UnixNano(), LinkTarget: target, Links: 1}
}

// root wraps the top folder into the snapshot's root tree.
func (b *builder) root(top ...*tree.Node) id.ID {
	tree.Sort(top)
	tid, err := b.s.SaveTree(top)
	if err != nil {
		b.tb.Fatal(err)
	}
	return tid
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	return newFixtureOn(tb, mem.New())
}

// newFixtureOn builds the fixture's repository on be.
func newFixtureOn(tb testing.TB, be backends.Backend) *fixture {
	tb.Helper()
	ctx := context.Background()
	r := repo.TestRepositoryOn(tb, be)
	b := &builder{tb: tb, r: r, s: r.NewSaver(ctx, 1)}
	notes1 := []byte("Shopping list\n\t- bread\n\t- milk\n")
	notes2 := []byte("Shopping list\n\t- bread\n\t- milk\n\t- coffee\n")
	report := make([]byte, 300)
	for i := range report {
		report[i] = byte(i * 7)
	}
	photo := func(seed byte, n int) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = seed ^ byte(i)
		}
		return out
	}
	comment := tree.Xattr{Name: "user.comment", Value: []byte("groceries")}
	home := func(step int) id.ID {
		t := at(step, 8)
		notes, pmode := notes1, uint32(0o644)
		if step >= 2 {
			notes = notes2
		}
		if step >= 3 {
			pmode = 0o600
		}
		docs := []*tree.Node{b.file("notes.txt", notes, 0o644, at(min(step, 2), 7), comment)}
		if step < 3 {
			docs = append(docs, b.file("report.bin", report, 0o640, at(1, 6)))
		}
		photos := []*tree.Node{b.file("a.jpg", photo(1, 2000), 0o644, at(1, 5)), b.file("b.jpg", photo(2, 3000), 0o644, at(1, 5))}
		if step >= 2 {
			photos = append(photos, b.file("c.jpg", photo(3, 5000), 0o644, at(2, 5)))
		}
		alice := b.dir("alice", t,
			b.dir("docs", t, docs...),
			b.dir("photos", t, photos...),
			b.link("link", "docs/notes.txt", at(1, 5)),
			b.file(".profile", []byte("export EDITOR=vi\n"), pmode, at(1, 4)),
		)
		return b.root(b.dir("home", at(1, 1), alice))
	}
	etc := b.root(b.dir("etc", at(2, 3),
		b.file("hosts", []byte("127.0.0.1 localhost\n"), 0o644, at(1, 3)),
		b.dir("nginx", at(2, 3), b.file("nginx.conf", []byte("worker_processes 1;\n"), 0o644, at(2, 3))),
	))
	trees := []id.ID{home(1), home(2), etc, home(3)}
	if err := b.s.Flush(); err != nil {
		tb.Fatal(err)
	}
	f := &fixture{r: r}
	for i, sn := range []*repo.Snapshot{
		{Time: at(1, 9), Tree: trees[0], Paths: []string{"/home/alice"}, Host: "laptop", Source: "home", Tags: []string{"daily"},
			Summary: &repo.Summary{TotalBytes: 5353, DataAdded: 5353}},
		{Time: at(2, 9), Tree: trees[1], Paths: []string{"/home/alice"}, Host: "laptop", Source: "home", Tags: []string{"daily"},
			Summary: &repo.Summary{TotalBytes: 10363, DataAdded: 5041}},
		{Time: at(2, 12), Tree: trees[2], Paths: []string{"/etc"}, Host: "server", Source: "etc", Tags: []string{"weekly", "config"},
			Summary: &repo.Summary{TotalBytes: 40, DataAdded: 40}},
		{Time: at(3, 9), Tree: trees[3], Paths: []string{"/home/alice"}, Host: "laptop", Source: "home",
			Summary: &repo.Summary{TotalBytes: 10063, DataAdded: 0}},
	} {
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			tb.Fatalf("snapshot %d: %v", i, err)
		}
		f.snaps = append(f.snaps, sn)
	}
	return f
}

// harness drives an App without a terminal: it runs every command
// synchronously and feeds its message back, as bubbletea would.
type harness struct {
	t    testing.TB
	f    *fixture
	a    *App
	quit bool
}

func newHarness(t testing.TB, f *fixture, w, h int) *harness {
	t.Helper()
	lipgloss.SetColorProfile(termenv.Ascii)
	a := New(context.Background(), f.r, Options{Location: time.UTC})
	a.static = true
	hs := &harness{t: t, f: f, a: a}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(a.Init())
	return hs
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case tea.QuitMsg:
		h.quit = true
	default:
		h.send(msg)
	}
}

func (h *harness) send(msg tea.Msg) {
	_, cmd := h.a.Update(msg)
	h.run(cmd)
}

// keys sends each key: names like "enter", "esc", "down", "space",
// "ctrl+c"; anything else is typed as runes.
func (h *harness) keys(keys ...string) {
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

// typeText types s one rune at a time.
func (h *harness) typeText(s string) {
	for _, r := range s {
		if r == ' ' {
			h.send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
			continue
		}
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

func keyMsg(k string) tea.KeyMsg {
	named := map[string]tea.KeyType{"enter": tea.KeyEnter, "esc": tea.KeyEsc, "up": tea.KeyUp, "down": tea.KeyDown,
		"left": tea.KeyLeft, "right": tea.KeyRight, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab, "backspace": tea.KeyBackspace,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd, "ctrl+c": tea.KeyCtrlC, "ctrl+r": tea.KeyCtrlR}
	if k == "space" || k == " " {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	if t, ok := named[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// screen is the current view with snapshot IDs replaced by sn1..sn4
// (padded to the same width), so goldens do not depend on random IDs.
func (h *harness) screen() string {
	s := h.a.View()
	for i, sn := range h.f.snaps {
		s = strings.ReplaceAll(s, sn.ID.Short(), fmt.Sprintf("snap%04d", i+1))
	}
	if wd, err := os.Getwd(); err == nil {
		s = strings.ReplaceAll(s, wd, "$PWD")
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	return strings.Join(lines, "\n") + "\n"
}

// golden compares the screen with testdata/name.golden (-update rewrites).
func (h *harness) golden(name string) {
	h.t.Helper()
	got := h.screen()
	file := filepath.Join(testdata, name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		h.t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("screen %s differs from the golden file (go test ./tui -update rewrites it)\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// contains fails unless the screen holds each of wants.
func (h *harness) contains(wants ...string) {
	h.t.Helper()
	s := h.screen()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			h.t.Fatalf("screen lacks %q:\n%s", w, s)
		}
	}
}

// containsWrapped is contains for text that holds a path: the view may
// break a long one over lines, and the paths of a test live under TMPDIR,
// as long as the machine makes it. A break is accepted only where the
// view's wrapping (wrapDialog, wrapReport, cutLines) could put one: on a
// line that the text after the break would have overflowed, in place of
// spaces or inside a word, with the text going on at the start of the
// next line, indented at least as deep as where it began. Text that merely
// runs on at the start of another line, or in another field, is not it.
func (h *harness) containsWrapped(wants ...string) {
	h.t.Helper()
	s := h.screen()
	for _, w := range wants {
		if !h.shownWrapped(s, w) {
			h.t.Fatalf("screen lacks %q (even broken over lines as the view breaks them):\n%s", w, s)
		}
	}
}

// shownWrapped reports whether screen shows want, perhaps broken over
// lines as the view breaks them (see containsWrapped).
func (h *harness) shownWrapped(screen, want string) bool {
	sw, _ := h.a.size()
	return wrappedIn(strings.Split(screen, "\n"), want, sw-2)
}

// wrappedIn reports whether lines show want, broken where a view wrapping
// at no less than min cells could break it: after a line that the next
// word would have made wider than min.
func wrappedIn(lines []string, want string, min int) bool {
	for i, l := range lines {
		for off := range l {
			if wrappedAt(lines, i, off, want, min) {
				return true
			}
		}
	}
	return false
}

// wrappedAt reports whether want begins at lines[i][off] and goes on
// over the lines below as the view breaks them.
func wrappedAt(lines []string, i, off int, want string, min int) bool {
	// Deeper than the line it began on, or as deep if that line is
	// itself a continuation.
	start := indentOf(lines[i])
	if i > 0 && indentOf(lines[i-1]) < start && broken(lines[i-1], lines[i], 1, min) {
		start--
	}
	l := lines[i][off:]
	cont := -1 // the continuation lines' indentation, all alike
	for {
		n := 0
		for n < len(l) && n < len(want) && l[n] == want[n] {
			n++
		}
		want = want[n:]
		if want == "" {
			return true
		}
		if n < len(l) || i+1 >= len(lines) {
			return false
		}
		// The line ends before want does: the view must have broken it.
		sep := 0
		if want[0] == ' ' {
			want, sep = strings.TrimLeft(want, " "), 1 // a break in place of spaces
		}
		next := lines[i+1]
		ind := indentOf(next)
		switch {
		case ind <= start || (cont >= 0 && ind != cont):
			return false // not a continuation's indentation
		case !broken(lines[i], next, sep, min):
			return false // the next word fitted: not a line the view broke
		}
		i, l, cont = i+1, next[ind:], ind
	}
}

// broken reports whether the view could have broken line before next:
// the first word of next, after sep spaces, would not have fitted in min
// cells.
func broken(line, next string, sep, min int) bool {
	word, _, _ := strings.Cut(strings.TrimLeft(next, " "), " ")
	return ansi.StringWidth(line)+sep+ansi.StringWidth(word) > min
}

// indentOf is how deep l is indented, a field's "> " mark counted as
// wrapDialog counts it.
func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " >")) }
