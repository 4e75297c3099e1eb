package restore

import (
	"os"
	"path/filepath"
	"testing"
)

// Two restores into the same target at once: one makes a folder, the
// other then puts an entry into it under the snapshot's own name. The
// first took that entry for one of its own that the filesystem had given
// the same name ("the target filesystem gives this name to another entry
// restored into this folder (it ignores case or changes names); not
// restored"), failed it with exit 1 and blamed the filesystem. An entry
// under its own name is someone else's, to judge as any existing one;
// only one under another name (the listing lacks dst's own) is a name
// the filesystem took.
func TestTakenHereInFolderMadeByThisRestore(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "A"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rs := &restorer{}
	parent := &lazyDir{path: dir, made: true, mine: true}
	if rs.takenHere(parent, filepath.Join(dir, "sub")) {
		t.Error("an entry another process put under its own name was taken for a name the filesystem gave")
	}
	// As a filesystem that ignores case answers for "a": the listing
	// holds only "A".
	if !rs.takenHere(parent, filepath.Join(dir, "a")) {
		t.Error("an entry under another name was not taken for a name the filesystem gave")
	}
}
