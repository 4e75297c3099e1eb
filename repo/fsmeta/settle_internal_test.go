package fsmeta

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// A user's restore (SkipOwner) cannot give a file a group it is not in,
// and Apply leaves it without a word: a kept file that differs from the
// snapshot only in such a group has all the metadata the restore can set,
// and is left alone, as one that differs in nothing. A restore by a user
// of root's files set every entry again on every re-run. One whose group
// the user could give it is still set.
func TestApplyChangedGroupNotOurs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	uid := uint32(os.Geteuid())
	if uid == 0 {
		// As a user of id 4242 would have made it.
		uid = 4242
		if err := os.Lchown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	}
	was := procCreds
	t.Cleanup(func() { procCreds = was })
	const theirs = 4343 // a group the user is not in
	procCreds = func() creds { return creds{euid: uid, groups: map[uint32]bool{uid: true}} }

	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	n := &tree.Node{Kind: tree.KindFile, Name: "f", UID: uid, GID: theirs, Mode: st.Mode & 0o7777, ATime: st.Atim.Nano(), MTime: st.Mtim.Nano()}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := ApplyChanged(p, fi, n, ApplyOptions{SkipOwner: true}); changed || err != nil {
		t.Errorf("group %d the user is not in: changed %v (%v), want nothing set", theirs, changed, err)
	}
	var after unix.Stat_t
	if err := unix.Lstat(p, &after); err != nil {
		t.Fatal(err)
	}
	if after.Ctim != st.Ctim {
		t.Errorf("ctime moved from %v to %v", st.Ctim, after.Ctim)
	}

	procCreds = func() creds { return creds{euid: uid, groups: map[uint32]bool{uid: true, theirs: true}} }
	if changed, _ := ApplyChanged(p, fi, n, ApplyOptions{SkipOwner: true}); !changed {
		t.Errorf("group %d the user is in: not set", theirs)
	}
}
