package fs

import (
	"testing"

	"github.com/cairn-backup/cairn/repo/id"
)

// The failed reads remembered as logged stay bounded over a huge damaged
// tree read whole, and forgetting them never keeps a file's first failure
// from being logged: a file and pack is logged once, until forgotten.
func TestFailuresLoggedBounded(t *testing.T) {
	f := &fsys{seen: map[readFailure]bool{}}
	pack := id.ID{1}
	for ino := range uint64(3 * maxFailures) {
		key := readFailure{ino: ino, pack: pack, chunk: -1}
		if !f.firstFailure(key) {
			t.Fatalf("file %d: its first failure was not logged", ino)
		}
		if f.firstFailure(key) {
			t.Fatalf("file %d: its second failure in the same pack was logged again", ino)
		}
		if len(f.seen) > maxFailures {
			t.Fatalf("%d failures remembered after %d files, want at most %d", len(f.seen), ino+1, maxFailures)
		}
	}
	// Damage of a pack whose outage was logged is logged too.
	if !f.firstFailure(readFailure{ino: 1, pack: id.ID{2}, chunk: -1}) || !f.firstFailure(readFailure{ino: 1, pack: id.ID{2}, chunk: -1, damaged: true}) {
		t.Fatal("an outage and damage of the same pack should each be logged")
	}
}
