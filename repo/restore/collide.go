package restore

// Names a target filesystem takes for others: one that ignores case
// (vfat, exFAT, SMB shares) gives "a" to the "A" restored a moment before.
// Such an entry is an error, rather than replacing the other entry or
// being kept as if it were an older copy of itself.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// errNameTaken is the error for a snapshot entry whose name the target
// filesystem gives to another entry restored into the same folder: one
// that ignores case (vfat, exFAT, SMB shares) takes "a" for "A". It is
// not restored, rather than replacing that entry or being kept as if it
// were an older copy of itself.
var errNameTaken = errors.New("the target filesystem gives this name to another entry restored into this folder (it ignores case or changes names); not restored")

// takenHere says whether the entry found at dst, in parent, is another
// one this restore put there: an entry under another name (the folder's
// listing lacks dst's own), in a folder this restore made, or in one
// that was there after a name that differs from dst's only in case. An
// entry under dst's own name in a folder this restore made was put there
// by someone else meanwhile (another restore into the same target, a
// user's cp): it is judged as any existing one, not blamed on the
// filesystem. Walker only.
func (rs *restorer) takenHere(parent *lazyDir, dst string) bool {
	if parent == nil || rs.opt.DryRun {
		return false
	}
	name := filepath.Base(dst)
	if !parent.mine && !parent.folded[strings.ToLower(name)] {
		return false
	}
	f, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return false
	}
	for _, x := range names {
		if x == name {
			return false
		}
	}
	return true
}

// restoredHere notes the name of an entry the walk is done with in
// parent, for takenHere.
func (rs *restorer) restoredHere(parent *lazyDir, name string) {
	if parent == nil || parent.mine || rs.opt.DryRun {
		return
	}
	if parent.folded == nil {
		parent.folded = make(map[string]bool)
	}
	parent.folded[strings.ToLower(name)] = true
}
