package fsmeta

import (
	"bytes"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// ApplyChanged is Apply with PruneXattrs for path, an existing entry that
// fi (its lstat) describes and that is kept as n (a restore run again
// over its own result): it makes no change at all when path already has
// n's metadata, so that a file left as the last restore made it is not
// written to (its ctime does not move, nothing is journalled), and
// changed says whether Apply was called.
//
// What fi shows is compared with no further call: the owner (only the
// group with SkipOwner), the mode (not of a symlink), the atime and the
// mtime to the nanosecond. With SkipOwner, the group only where this
// process may give the file n's (see mayGiveGroup): another one, which
// Apply cannot change either, would have every entry set again on every
// re-run of a user's restore of root's files. What it cannot show is read: extended
// attributes (ACLs and capabilities are ones) and inode flags change only
// the ctime, which a restore cannot set and so has nothing to compare
// with; one llistxattr (and an lgetxattr per attribute the file has), and
// with opt.Flags the flags ioctl. The first difference calls Apply, which
// sets everything, as for a path restored anew.
func ApplyChanged(path string, fi os.FileInfo, n *tree.Node, opt ApplyOptions) (changed bool, err error) {
	opt.PruneXattrs = true
	if fi != nil && hasMeta(path, fi, n, opt) {
		return false, nil
	}
	return true, Apply(path, n, opt)
}

// hasMeta says whether path, with lstat fi, has n's metadata (see
// ApplyChanged); false when anything cannot be read.
func hasMeta(path string, fi os.FileInfo, n *tree.Node, opt ApplyOptions) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	if !opt.SkipOwner && (st.Uid != n.UID || st.Gid != n.GID) {
		return false
	}
	if opt.SkipOwner && st.Gid != n.GID && mayGiveGroup(st.Uid, n.GID) {
		return false
	}
	if n.Kind != tree.KindSymlink && st.Mode&0o7777 != n.Mode&0o7777 {
		return false
	}
	if st.Atim.Nano() != n.ATime || st.Mtim.Nano() != n.MTime {
		return false
	}
	if opt.Flags && (n.Kind == tree.KindFile || n.Kind == tree.KindDir) {
		kind := tree.KindFile
		if fi.IsDir() {
			kind = tree.KindDir
		}
		fl, err := Flags(path, kind)
		if err != nil || fl != n.Flags&FlagsKept {
			return false
		}
	}
	have, err := Xattrs(path)
	if err != nil || len(have) != len(n.Xattrs) {
		return false
	}
	for _, x := range n.Xattrs {
		i := 0
		for i < len(have) && have[i].Name != x.Name {
			i++
		}
		if i == len(have) || !bytes.Equal(have[i].Value, x.Value) {
			return false
		}
	}
	return true
}

// creds are this process's effective user and the groups it is in (its
// effective group and supplementary groups), read once.
type creds struct {
	euid   uint32
	groups map[uint32]bool
}

// procCreds reads creds once; tests replace it.
var procCreds = sync.OnceValue(func() creds {
	c := creds{euid: uint32(os.Geteuid()), groups: map[uint32]bool{uint32(os.Getegid()): true}}
	gs, _ := unix.Getgroups()
	for _, g := range gs {
		c.groups[uint32(g)] = true
	}
	return c
})

// mayGiveGroup says whether this process may give a file owned by uid the
// group gid, as Apply tries to with SkipOwner (lchown, the owner left):
// root may; another user only a file of their own, and a group they are
// in. Apply does not report the refusal (EPERM) of any other.
func mayGiveGroup(uid, gid uint32) bool {
	c := procCreds()
	return c.euid == 0 || uid == c.euid && c.groups[gid]
}
