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
	if l := cursorLine(s.wait("> ")); !strings.Contains(l, "a03") {
		t.Fatalf("cursor not on a03: %q", l)
	}

	// A plain escape: the cursor goes back to a03.
	s.keys("/")
	s.text("a3")
	s.wait("filter: a3")
	if l := cursorLine(s.screen()); !strings.Contains(l, "a30") {
		t.Fatalf("the filter's cursor is not on a30: %q", l)
	}
	s.keys("Escape")
	scr := s.wait("40 entries")
	if strings.Contains(scr, "filter:") || !strings.Contains(cursorLine(scr), "a03") {
		t.Fatalf("escape did not cancel the filter back to a03:\n%s", scr)
	}

	// Escape and j in one read: the filter is cancelled, then j moves.
	s.keys("/")
	s.text("a3")
	s.wait("filter: a3")
	s.tmux("send-keys", "Escape", "j")
	s.keys("j")
	scr = s.wait("40 entries")
	for range 40 {
		if !strings.Contains(scr, "filter:") {
			break
		}
		scr = s.screen()
	}
	if strings.Contains(scr, "filter:") || !strings.Contains(cursorLine(scr), "a05") {
		t.Fatalf("escape read with the next key did not cancel the filter (cursor should be on a05):\n%s", scr)
	}
}
