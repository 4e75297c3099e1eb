package fsmeta

import "testing"

// The tests of fs and cmd/cairn find their mounts by it, under a TMPDIR
// that may hold spaces, tabs or backslashes.
func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/plain`:                 "/tmp/plain",
		`/tmp/a\040b`:                "/tmp/a b",
		`/tmp/t\011ab\012nl\134back`: "/tmp/t\tab\nnl\\back",
		`/tmp/é\040`:                 "/tmp/é ",
		`/tmp/short\04`:              `/tmp/short\04`,
	} {
		if got := UnescapeMountinfo(in); got != want {
			t.Errorf("UnescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
