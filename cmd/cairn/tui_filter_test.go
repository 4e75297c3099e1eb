package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cursorLine is the screen's line with the list cursor ("> ") on it.
func cursorLine(scr string) string {
	for _, l := range strings.Split(scr, "\n") {
		if strings.HasPrefix(l, "> ") {
			return l
		}
	}
	return ""
}

// Escape cancels the folder's filter at once and puts the cursor back
// where it was before the filter, even when the key after it comes in
// the same read (typed quickly, or while a big folder was being drawn).
// Before, bubbletea read escape-and-j as alt+j, which the filter ignored:
// the filter stayed open and the next keys were typed into it. And a
// plain escape left the cursor on the filter's first match, far from
// where the user was.
func TestTUIFilterEscapeCancels(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	for i := range 40 {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("a%02d", i)), []byte("x\n"), 0o644)
	}
	c.ok("ingest", "-q", src)
	s := startTmux(t, 80, 24, tuiCommand(c)+"; sleep 60")
	s.wait("1 snapshot ")
	s.keys("Enter")
	s.wait("a00")
	s.keys("j", "j", "j")
	s.waitFor("the cursor on a03", cursorOn("a03", false))

	// A plain escape: the cursor goes back to a03.
	s.keys("/")
	s.text("a3")
	s.wait("filter: a3")
	if l := cursorLine(s.screen()); !strings.Contains(l, "a30") {
		t.Fatalf("the filter's cursor is not on a30: %q", l)
	}
	s.keys("Escape")
	s.waitFor("the filter cancelled, the cursor back on a03", cursorOn("a03", true))

	// Escape, then j: the filter is cancelled, then j moves. (tmux
	// sends "Escape j" given in one command as one write, which is
	// what a terminal sends for alt+j.)
	s.keys("/")
	s.text("a3")
	s.wait("filter: a3")
	s.keys("Escape", "j", "j")
	s.waitFor("the filter cancelled, then the cursor moved on to a05", cursorOn("a05", true))

	// alt+j is no escape: the filter stays as typed.
	s.keys("/")
	s.text("a1")
	s.wait("filter: a1")
	s.keys("M-j")
	s.text("5")
	s.wait("filter: a15")
}

// alt+b (a word motion to readline users, Option+b on a Mac with "Option
// as Meta") in the restore dialog's folder field leaves the dialog open
// with what was typed, and alt+backspace deletes the last word. Before,
// every alt+key was taken for an escape and the key: alt+b closed the
// dialog and the folder typed was lost.
func TestTUIAltKeyInRestoreFolder(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 1<<10, 7)
	c.ok("ingest", "-q", src)
	s := startTmux(t, 100, 30, tuiCommand(c)+"; sleep 60")
	s.wait("1 snapshot ")
	s.keys("Enter")
	s.wait("3 entries")
	s.keys("Space", "R")
	s.wait("Restore 1 marked entry")
	s.keys("Right", "Tab", "C-u")
	s.text("/srv/restore/alice")
	s.wait("/srv/restore/alice")
	s.keys("M-b", "M-f")
	s.text("x")
	s.wait("/srv/restore/alicex")
	s.keys("M-BSpace")
	s.text("bob")
	scr := s.wait("/srv/restore/bob")
	if !strings.Contains(scr, "Restore 1 marked entry") {
		t.Fatalf("the dialog is gone:\n%s", scr)
	}
}

// cursorOn is a waitFor condition: the list cursor on name, and, when
// unfiltered is set, the whole listing shown, no filter open.
func cursorOn(name string, unfiltered bool) func(string) bool {
	return func(scr string) bool {
		if unfiltered && (strings.Contains(scr, "filter:") || !strings.Contains(scr, "40 entries")) {
			return false
		}
		return strings.Contains(cursorLine(scr), name)
	}
}
