package search

import "testing"

func TestMatchIgnoreCase(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"NOTES.*", "notes.txt", true},
		{"straße", "STRASSE", false},
		{"ΛΌΓΟΣ", "λόγος", true}, // final sigma
		{"λόγος", "ΛΌΓΟΣ", true},
		{"KELVIN", "\u212aelvin", true},
		// Names need not be UTF-8: bytes that are not are compared as
		// they are, not all as one replacement character.
		{"CAF\xe9.TXT", "caf\xe9.txt", true},
		{"CAF\xe9.TXT", "caf\xe8.txt", false},
		{"caf?.txt", "CAF\xe8.TXT", true},
		{"[A-C]x", "bX", true},
	} {
		m, err := newMatcher(c.pattern, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.accepts(m.step(m.start(), c.name)); got != c.want {
			t.Errorf("-i %q matches %q: %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}
