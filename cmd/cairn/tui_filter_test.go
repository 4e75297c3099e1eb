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

	// Escape and j in one read: the filter is cancelled, then j moves.
	s.keys("/")
	s.text("a3")
	s.wait("filter: a3")
	s.tmux("send-keys", "Escape", "j")
	s.keys("j")
	s.waitFor("the filter cancelled by the escape read with j, the cursor on a05", cursorOn("a05", true))
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
