package tui

import (
	"os"
	"testing"
)

// One golden screen per page, at 120×30 in UTC with plain-text styles.
func TestGoldenScreens(t *testing.T) {
	f := newFixture(t)
	// The restore dialog's folder starts as $PWD/restored: a clone at a
	// long path (as CI makes) would wrap it, shown whole while it is
	// changed, and break it out of screen's $PWD. The screens are drawn
	// in a short working folder instead.
	wd, err := os.MkdirTemp("/tmp", "cairn-golden-")
	if err != nil {
		wd = t.TempDir()
	} else {
		t.Cleanup(func() { os.RemoveAll(wd) })
	}
	t.Chdir(wd)
	for _, c := range []struct {
		name string
		keys []string
	}{
		{"snapshots", nil},
		{"snapshots-filtered", []string{"/", "s", "e", "r", "v", "enter"}},
		{"snapshots-sorted", []string{"o"}},
		{"help", []string{"?"}},
		{"tree-start", []string{"enter"}},
		{"tree-up", []string{"enter", "h"}},
		{"tree-docs", []string{"enter", "down", "enter", "down"}},
		{"tree-symlink", []string{"enter", "down", "space"}},
		{"preview-text", []string{"enter", "down", "enter", "enter"}},
		{"tree-hex", []string{"down", "down", "enter", "down", "enter", "down"}},
		{"preview-hex", []string{"down", "down", "enter", "down", "enter", "down", "enter"}},
		{"versions", []string{"enter", "down", "enter", "v"}},
		{"search", []string{"f", "j", "p", "g", "enter"}},
		{"search-expanded", []string{"f", "n", "o", "t", "e", "s", "enter"}},
		{"diff", []string{"down", "down", "space", "home", "d"}},
		{"diff-added", []string{"down", "down", "space", "home", "d", "tab"}},
		{"diff-collapsed", []string{"down", "down", "space", "home", "d", "home", "down", "left"}},
		{"restore-dialog", []string{"enter", "space", "space", "R"}},
		{"restore-folder", []string{"enter", "space", "R", "right", "tab"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, f, 120, 30)
			h.keys(c.keys...)
			h.golden(c.name)
		})
	}
}

// The same pages on the smallest usual terminal: names stay readable
// and the help shows every key.
func TestGoldenScreensSmall(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name string
		keys []string
	}{
		{"small-snapshots", nil},
		{"small-tree", []string{"enter", "down"}},
		{"small-tree-help", []string{"enter", "?"}},
		{"small-diff-help", []string{"down", "down", "space", "home", "d", "?"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, f, 80, 24)
			h.keys(c.keys...)
			h.golden(c.name)
		})
	}
}
