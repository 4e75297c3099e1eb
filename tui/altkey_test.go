package tui

import (
	"os"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

func altKey(r rune) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: true} }

// An Alt key (alt+b, a word motion in readline) never acts as escape:
// the restore dialog stays open with the folder typed, a filter stays as
// typed. alt+backspace deletes the last word. Before, every alt+key was
// taken for an escape and the key: alt+b closed the restore dialog and
// the folder typed in it was lost.
func TestAltKeyKeepsTypedText(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	h.keys("enter") // the newest snapshot's tree
	p := h.a.top().(*treePage)
	h.keys("/")
	h.typeText("o")
	h.send(altKey('j'))
	if !p.filter.active || p.filter.value != "o" {
		t.Fatalf("alt+j changed the filter to %q (open %v)", p.filter.value, p.filter.active)
	}
	h.keys("esc", "space", "R", "right", "tab", "ctrl+u")
	rp, ok := h.a.top().(*restorePage)
	if !ok || !rp.typing() {
		t.Fatalf("no restore dialog with its folder field selected:\n%s", h.screen())
	}
	h.typeText("/srv/restore/alice")
	h.send(altKey('b'))
	h.send(altKey('f'))
	if h.a.top() != page(rp) || rp.folder.value != "/srv/restore/alice" {
		t.Fatalf("alt+b, alt+f: dialog open %v, folder %q", h.a.top() == page(rp), rp.folder.value)
	}
	h.send(tea.KeyMsg{Type: tea.KeyBackspace, Alt: true})
	if rp.folder.value != "/srv/restore/" {
		t.Errorf("alt+backspace left %q", rp.folder.value)
	}
	h.keys("esc") // a plain escape still cancels
	if h.a.top() == page(rp) {
		t.Error("esc did not close the dialog")
	}
}

// The terminal's bytes go to bubbletea one read at a time however late it
// asks for them: an escape typed before a key, while the screen was busy,
// reads apart from it and stays an escape. Read straight from the
// terminal, both waited together and read as alt+key.
func TestBurstInputKeepsReadsApart(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	in, err := newBurstInput(r)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	waitPending := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); in.pending() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d reads pending, want %d", in.pending(), n)
			}
		}
	}
	w.Write([]byte("\x1b"))
	waitPending(1)
	w.Write([]byte("j"))
	waitPending(2)
	w.Write([]byte("\x1bb")) // an Alt key: one write
	waitPending(3)
	buf := make([]byte, 256)
	for _, want := range []string{"\x1b", "j", "\x1bb"} {
		n, err := in.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
		}
	}
	in.Stop()
	if n, err := in.Read(buf); n != 0 || err == nil {
		t.Errorf("after Stop: %d, %v", n, err)
	}
}
