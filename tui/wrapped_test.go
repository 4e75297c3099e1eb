package tui

import (
	"strings"
	"testing"
)

// containsWrapped accepts a path broken as the views break it, and not
// text that only runs on at the start of another, unrelated line: a
// matcher that took any line break would let a report that never names
// the path whole pass the restore tests.
func TestWrappedInAcceptsOnlyTheViewsBreaks(t *testing.T) {
	const w = 40
	deep := "/tmp/" + strings.Repeat("d", 40)
	for _, c := range []struct {
		name, want string
		lines      []string
		ok         bool
	}{
		{"cutLines", "restored     " + deep + "/a.txt", cutLines("  restored     "+deep+"/a.txt", w, strings.Repeat(" ", 15)), true},
		{"wrapReport", deep + " is a symlink", wrapReport(deep+" is a symlink", w, "  "), true},
		{"wrapDialog", "Folder:    " + deep, wrapDialog("> Folder:    "+deep, w), true},
		{"from a continuation", strings.Repeat("e", 28) + " is a symlink", wrapReport("see "+strings.Repeat("e", 60)+" is a symlink", w, "  "), true},
		{"one line", "restored     /tmp/x", []string{"  restored     /tmp/x"}, true},
		// A short entry, and the next one beginning with what would
		// have continued it.
		{"a short line ends", "restored     /tmp/x/a.txt", []string{"  restored     /tmp/x", "               /a.txt"}, false},
		{"the next word fitted", "/tmp/x is a symlink", []string{"  /tmp/x", "    is a symlink"}, false},
		{"next line not indented", "restored     " + deep + "/a.txt", []string{"  restored     " + deep, "/a.txt"}, false},
		{"less indented than the start", "x " + deep + "/a.txt", []string{"      x " + deep[:30], "    " + deep[30:] + "/a.txt"}, false},
		{"a field below", "Folder:    " + deep + " Existing:", []string{"> Folder:    " + deep, "  Existing:  (•) always"}, false},
	} {
		if got := wrappedIn(c.lines, c.want, w-2); got != c.ok {
			t.Errorf("%s: wrappedIn(%q, %q) = %v, want %v", c.name, c.lines, c.want, got, c.ok)
		}
	}
}
