package fsmeta_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// TestCreateApply creates every kind Create handles, applies owner, xattr,
// mode and times, and reads them back with Stat.
func TestCreateApply(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	xs := []tree.Xattr{{Name: "trusted.cairn", Value: []byte("v")}}
	nodes := []tree.Node{
		{Name: "link", Kind: tree.KindSymlink, Mode: 0o777, LinkTarget: "../t\xffrget"},
		{Name: "chr", Kind: tree.KindCharDev, Mode: 0o620, DevMajor: 1, DevMinor: 7},
		{Name: "blk", Kind: tree.KindBlockDev, Mode: 0o660, DevMajor: 7, DevMinor: 99},
		{Name: "fifo", Kind: tree.KindFIFO, Mode: 0o1644},
		{Name: "sock", Kind: tree.KindSocket, Mode: 0o777},
	}
	for _, n := range nodes {
		n.UID, n.GID, n.ATime, n.MTime, n.Xattrs = 12345, 54321, nsA, nsM, xs
		p := filepath.Join(dir, n.Name)
		must(t, fsmeta.Create(p, &n))
		must(t, fsmeta.Apply(p, &n, fsmeta.ApplyOptions{}))
		got, err := fsmeta.Stat(p)
		must(t, err)
		got.CTime, got.Dev, got.Inode, got.Links = 0, 0, 0, 0
		if !reflect.DeepEqual(*got, n) {
			t.Errorf("%s:\n got %+v\nwant %+v", n.Name, *got, n)
		}
	}
	for _, k := range []tree.Kind{tree.KindFile, tree.KindDir} {
		if err := fsmeta.Create(filepath.Join(dir, "x"), &tree.Node{Kind: k}); !errors.Is(err, fsmeta.ErrKind) {
			t.Errorf("Create(%s) = %v, want ErrKind", k, err)
		}
	}
	if err := fsmeta.Create(filepath.Join(dir, "fifo"), &nodes[3]); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create over existing = %v, want EEXIST", err)
	}
}

// TestApplyOrder sets the attributes that undo each other when applied in
// the wrong order: chown clears setuid, setgid and security.capability, an
// access ACL rewrites the group bits. All must survive Apply.
func TestApplyOrder(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	suid := filepath.Join(dir, "suid")
	must(t, os.WriteFile(suid, []byte("#!/bin/true\n"), 0o600))
	n := &tree.Node{Kind: tree.KindFile, Mode: 0o6755, UID: 12345, GID: 54321, ATime: nsA, MTime: nsM,
		Xattrs: []tree.Xattr{{Name: "security.capability", Value: capNetBind}}}
	must(t, fsmeta.Apply(suid, n, fsmeta.ApplyOptions{}))
	got, err := fsmeta.Stat(suid)
	must(t, err)
	if got.Mode != 0o6755 || got.UID != 12345 || got.GID != 54321 || !reflect.DeepEqual(got.Xattrs, n.Xattrs) {
		t.Errorf("setuid file: mode %#o owner %d:%d xattrs %q", got.Mode, got.UID, got.GID, got.Xattrs)
	}

	aclf := filepath.Join(dir, "acl")
	must(t, os.WriteFile(aclf, nil, 0o600))
	n = &tree.Node{Kind: tree.KindFile, Mode: 0o660, ATime: nsA, MTime: nsM,
		Xattrs: []tree.Xattr{{Name: "system.posix_acl_access", Value: accessACL660}}}
	must(t, fsmeta.Apply(aclf, n, fsmeta.ApplyOptions{}))
	got, err = fsmeta.Stat(aclf)
	must(t, err)
	if got.Mode != 0o660 || !reflect.DeepEqual(got.Xattrs, n.Xattrs) || got.MTime != nsM || got.ATime != nsA {
		t.Errorf("acl file: mode %#o times %d %d xattrs %q", got.Mode, got.ATime, got.MTime, got.Xattrs)
	}
}

// TestApplyPrune removes stale xattrs, an ACL included, only when asked.
func TestApplyPrune(t *testing.T) {
	needRoot(t)
	p := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(p, nil, 0o660))
	must(t, unix.Lsetxattr(p, "user.stale", []byte("old"), 0))
	must(t, unix.Lsetxattr(p, "user.keep", []byte("old"), 0))
	must(t, unix.Lsetxattr(p, "system.posix_acl_access", accessACL660, 0))
	n := &tree.Node{Kind: tree.KindFile, Mode: 0o640, Xattrs: []tree.Xattr{{Name: "user.keep", Value: []byte("new")}}}

	must(t, fsmeta.Apply(p, n, fsmeta.ApplyOptions{}))
	got, err := fsmeta.Stat(p)
	must(t, err)
	if len(got.Xattrs) != 3 {
		t.Errorf("without PruneXattrs: %q", got.Xattrs)
	}
	must(t, fsmeta.Apply(p, n, fsmeta.ApplyOptions{PruneXattrs: true}))
	got, err = fsmeta.Stat(p)
	must(t, err)
	if !reflect.DeepEqual(got.Xattrs, n.Xattrs) || got.Mode != 0o640 {
		t.Errorf("with PruneXattrs: mode %#o xattrs %q", got.Mode, got.Xattrs)
	}
}

// TestApplyErrors checks that a failure names path, call and attribute,
// that the other attributes are still set, and that SkipOwner skips chown.
func TestApplyErrors(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	must(t, os.WriteFile(p, nil, 0o600))
	n := &tree.Node{Kind: tree.KindFile, Mode: 0o640, UID: 12345, ATime: nsA, MTime: nsM,
		Xattrs: []tree.Xattr{{Name: "system.posix_acl_access", Value: acl([3]uint32{0x01, 6, noID})}}} // no group or other entry
	err := fsmeta.Apply(p, n, fsmeta.ApplyOptions{SkipOwner: true})
	var e *fsmeta.Error
	if !errors.As(err, &e) || e.Op != "lsetxattr" || e.Path != p || e.Attr != "system.posix_acl_access" ||
		!errors.Is(err, unix.EINVAL) {
		t.Fatalf("Apply(bad acl) = %v, want lsetxattr EINVAL", err)
	}
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "system.posix_acl_access") {
		t.Errorf("error %q does not name path and attribute", err)
	}
	got, err := fsmeta.Stat(p)
	must(t, err)
	if got.Mode != 0o640 || got.MTime != nsM || got.ATime != nsA || got.UID != 0 {
		t.Errorf("after a failed xattr: mode %#o uid %d times %d %d", got.Mode, got.UID, got.ATime, got.MTime)
	}

	missing := filepath.Join(dir, "missing")
	err = fsmeta.Apply(missing, &tree.Node{Kind: tree.KindFile}, fsmeta.ApplyOptions{})
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Apply(missing) = %v", err)
	}
	for _, want := range []string{"lchown " + missing, "chmod " + missing, "utimensat " + missing + " times"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Apply(missing) = %q, want it to contain %q", err, want)
		}
	}
}

// TestApplyFd gives a file, through a descriptor opened for writing only,
// what Apply gives it by name, in the same order: setuid and a capability
// survive the chown, an access ACL its mode, and stale xattrs go with
// PruneXattrs.
func TestApplyFd(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		n     *tree.Node
		stale bool
	}{
		{"suid", &tree.Node{Kind: tree.KindFile, Mode: 0o6755, UID: 12345, GID: 54321, ATime: nsA, MTime: nsM,
			Xattrs: []tree.Xattr{{Name: "security.capability", Value: capNetBind}}}, false},
		{"acl", &tree.Node{Kind: tree.KindFile, Mode: 0o660, ATime: nsA, MTime: nsM,
			Xattrs: []tree.Xattr{{Name: "system.posix_acl_access", Value: accessACL660}}}, false},
		{"prune", &tree.Node{Kind: tree.KindFile, Mode: 0o640, ATime: nsA, MTime: nsM,
			Xattrs: []tree.Xattr{{Name: "user.keep", Value: []byte("new")}}}, true},
	} {
		p := filepath.Join(dir, tc.name)
		must(t, os.WriteFile(p, []byte("x"), 0o600))
		if tc.stale {
			must(t, unix.Lsetxattr(p, "user.stale", []byte("old"), 0))
			must(t, unix.Lsetxattr(p, "system.posix_acl_access", accessACL660, 0))
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		must(t, err)
		must(t, fsmeta.ApplyFd(int(f.Fd()), p, tc.n, fsmeta.ApplyOptions{PruneXattrs: tc.stale}))
		must(t, f.Close())
		got, err := fsmeta.Stat(p)
		must(t, err)
		if got.Mode != tc.n.Mode || got.UID != tc.n.UID || got.GID != tc.n.GID || got.ATime != nsA || got.MTime != nsM || !reflect.DeepEqual(got.Xattrs, tc.n.Xattrs) {
			t.Errorf("%s: mode %#o owner %d:%d times %d %d xattrs %q", tc.name, got.Mode, got.UID, got.GID, got.ATime, got.MTime, got.Xattrs)
		}
	}
}
