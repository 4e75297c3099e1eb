package repo

import (
	"os"
	"testing"
)

// discard removes a pack file by its name only while the name is still
// that file's: a file in the temporary folder was unlinked when it was
// made, and its random name may have been taken by another file since.
func TestDiscardLeavesANameTakenSince(t *testing.T) {
	dir := t.TempDir()
	kept, err := os.CreateTemp(dir, "pack-*")
	if err != nil {
		t.Fatal(err)
	}
	discard(kept)
	if _, err := os.Stat(kept.Name()); !os.IsNotExist(err) {
		t.Fatalf("a pack file still at its name is left after discard: %v", err)
	}

	gone, err := os.CreateTemp(dir, "pack-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone.Name()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gone.Name(), []byte("another file"), 0o600); err != nil {
		t.Fatal(err)
	}
	discard(gone)
	if b, err := os.ReadFile(gone.Name()); err != nil || string(b) != "another file" {
		t.Fatalf("discard removed the file that took an unlinked pack file's name: %q, %v", b, err)
	}
}
