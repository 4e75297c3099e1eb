package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/cairn-backup/cairn/repo/repotest"
)

// TestLiveDiffRestoreOriginal changes a file of an ingested folder, finds
// it in the diff against the live filesystem, marks it there and restores
// it to its original location.
func TestLiveDiffRestoreOriginal(t *testing.T) {
	f := repotest.New(t)
	lipgloss.SetColorProfile(termenv.Ascii)
	file := filepath.Join(f.Source, "docs", "a.txt")
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("changed since\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := New(context.Background(), f.Repo, Options{Location: time.UTC})
	a.static = true
	h := &harness{t: t, a: a}
	h.keys() // no size yet: the default 80×24
	h.run(a.Init())
	h.keys("L")
	p, ok := a.top().(*diffPage)
	if !ok {
		t.Fatalf("L opened %T (status %q)", a.top(), a.status)
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	// Paths are relative to the compared folder, which the column names;
	// the byte counts mean what cairn diff prints.
	if v := a.View(); !strings.Contains(v, "PATH in ") || !strings.Contains(v, "/src ") || !strings.Contains(v, "changed +") {
		t.Errorf("live diff header:\n%s", v)
	}
	h.keys("tab", "tab", "tab") // modified only
	var row int = -1
	for i, n := range p.rows {
		if n.name == "a.txt" {
			row = i
		}
	}
	if row < 0 {
		t.Fatalf("a.txt is not among the modified:\n%s", a.View())
	}
	p.cur.pos = row
	h.keys("space", "R")
	h.keys("down", "right") // overwrite: always
	if !strings.Contains(a.View(), "(•) always") {
		t.Fatalf("overwrite choice:\n%s", a.View())
	}
	h.keys("enter")
	if !strings.Contains(a.View(), "Restore finished") {
		t.Fatalf("report:\n%s", a.View())
	}
	got, _ := os.ReadFile(file)
	if string(got) != string(want) {
		t.Fatalf("a.txt was not restored in place: %q", got)
	}
}

// A live-only entry cannot be marked, and the notice that says so names
// it escaped: drawn raw, a line feed in the name split the status line
// (the whole screen moved up a line) and an escape sequence in it
// restyled the terminal.
func TestLiveOnlyNoticeEscapesName(t *testing.T) {
	f := repotest.New(t)
	lipgloss.SetColorProfile(termenv.Ascii)
	if err := os.WriteFile(filepath.Join(f.Source, "evil\x1b[7mINV\nline2"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := New(context.Background(), f.Repo, Options{Location: time.UTC})
	a.static = true
	h := &harness{t: t, a: a}
	h.keys()
	h.run(a.Init())
	h.keys("L")
	p, ok := a.top().(*diffPage)
	if !ok {
		t.Fatalf("L opened %T (status %q)", a.top(), a.status)
	}
	p.cur.pos = -1
	for i, n := range p.rows {
		if strings.HasPrefix(n.name, "evil") {
			p.cur.pos = i
		}
	}
	if p.cur.pos < 0 {
		t.Fatalf("the new live file is not in the diff:\n%s", a.View())
	}
	h.keys("space")
	v := a.View()
	if strings.Contains(v, "\x1b") || strings.Count(v, "\n") != 23 {
		t.Errorf("the notice drew the name raw (%d lines):\n%q", strings.Count(v, "\n")+1, v)
	}
	if !strings.Contains(v, `evil\x1b[7mINV\nline2 exists only on the live filesystem`) {
		t.Errorf("the notice lacks the escaped name:\n%s", v)
	}
}
