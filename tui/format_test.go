package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-backup/cairn/repo"
)

// Names are drawn with control characters escaped: C0, DEL, invalid
// UTF-8, C1 and the bidirectional overrides that would reorder the screen.
func TestPrintableEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"plain.txt":             "plain.txt",
		"héllo 日本":              "héllo 日本",
		"a\x1bb":                `a\x1bb`,
		"bad\xffutf8":           `bad\xffutf8`,
		"c1\u0085x\u009b":       `c1\u0085x\u009b`,
		"evil\u202etxt.exe":     `evil\u202etxt.exe`,
		"\u202aembed\u202c":     `\u202aembed\u202c`,
		"iso\u2066late\u2069":   `iso\u2066late\u2069`,
		"first\u2068strong":     `first\u2068strong`,
		"mark\u200fright\u200e": `mark\u200fright\u200e`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
	p := &treePage{sn: &repo.Snapshot{}, dir: "/odd\u202eeman"}
	if got := p.title(); strings.Contains(got, "\u202e") {
		t.Errorf("tree title %q draws a bidi override", got)
	}
}

// The side pane's hex dump fits the pane: fewer bytes a row when narrow.
func TestPaneHexDumpFitsWidth(t *testing.T) {
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	for _, w := range []int{24, 38, 64, 120} {
		out := renderContent(data, w, false)
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: %q is %d cells", w, l, ansi.StringWidth(l))
			}
		}
		if !strings.Contains(out, "ff") {
			t.Errorf("width %d: the last byte is missing:\n%s", w, out)
		}
	}
	if out := renderContent(data, 120, false); strings.Count(out, "\n") != 16 {
		t.Errorf("a wide pane should keep 16 bytes a row:\n%s", out)
	}
}

// Text shown in the side pane and the preview has the characters that
// move the cursor or reorder the screen escaped: a carriage return inside
// a line (a progress log) sent the cursor to the left edge, where the
// pane's text overwrote the file list; a form feed moved it down a line.
func TestContentEscapesControls(t *testing.T) {
	data := []byte(" 10%\r 50%\r100% done\r\npage one\n\fpage two\nc1 \u009b31mred\u009b0m \u202eevil\u202c end\n")
	if !isText(data) {
		t.Fatal("test data is not text")
	}
	for _, full := range []bool{false, true} {
		got := renderContent(data, 60, full)
		for _, bad := range []string{"\r", "\f", "\u009b", "\u202e", "\u202c"} {
			if strings.Contains(got, bad) {
				t.Errorf("full=%v: %q drawn raw in %q", full, bad, got)
			}
		}
		for _, want := range []string{` 10%\r 50%\r100% done` + "\n", `\fpage two`, `c1 \u009b31mred\u009b0m \u202eevil\u202c end`} {
			if !strings.Contains(got, want) {
				t.Errorf("full=%v: %q lacks %q", full, got, want)
			}
		}
	}
	if got := renderContent([]byte("a\tb\n"), 60, false); got != "a    b\n" {
		t.Errorf("tabs: %q", got)
	}
}

// A cut that lands inside a double-width character: fit dropped it whole
// and came out one cell short, so the columns after a long Japanese name
// (size, mode, the side pane's bar) were out of line with the others;
// fitLeft kept it whole and came out one cell too wide, so a header with
// a long path lost its last cell to the terminal's edge.
func TestFitWideCharactersKeepsWidth(t *testing.T) {
	name := strings.Repeat("日本語の長いファイル名", 5) + ".txt"
	for _, w := range []int{1, 2, 5, 23, 24, 40} {
		if got := ansi.StringWidth(fit(name, w)); got != w {
			t.Errorf("fit(wide name, %d) is %d cells: %q", w, got, fit(name, w))
		}
	}
	path := "/x/" + name
	for w := 2; w < 60; w++ {
		if got := ansi.StringWidth(fitLeft(path, w)); got != w {
			t.Errorf("fitLeft(wide path, %d) is %d cells: %q", w, got, fitLeft(path, w))
		}
	}
	if got := fit("abc", 5); got != "abc  " {
		t.Errorf("fit pads: %q", got)
	}
}
