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
