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

// TestStatKinds makes one entry of every kind with known attributes and
// checks every Node field Stat fills in.
func TestStatKinds(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }

	must(t, os.WriteFile(p("file"), []byte("hello"), 0o600))
	must(t, unix.Lchown(p("file"), 12345, 54321))
	must(t, unix.Chmod(p("file"), 0o2750))
	must(t, unix.Lsetxattr(p("file"), "user.b", []byte("2"), 0))
	must(t, unix.Lsetxattr(p("file"), "user.a", []byte{}, 0))
	must(t, unix.Lsetxattr(p("file"), "trusted.t", []byte{0, 0xff}, 0))
	must(t, unix.Mkdir(p("dir"), 0o700))
	must(t, unix.Chmod(p("dir"), 0o1755))
	must(t, unix.Symlink("tar\xffget", p("link")))
	must(t, unix.Lchown(p("link"), 12345, 54321))
	must(t, unix.Mknod(p("chr"), unix.S_IFCHR|0o640, int(unix.Mkdev(1, 7))))
	must(t, unix.Mknod(p("blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 99))))
	must(t, unix.Mknod(p("fifo"), unix.S_IFIFO|0o644, 0))
	must(t, unix.Mknod(p("sock"), unix.S_IFSOCK|0o755, 0))
	must(t, os.WriteFile(p("bad-\xff\xfe name\n"), nil, 0o644))
	must(t, os.Link(p("file"), p("hard")))
	for _, name := range []string{"file", "dir", "link", "chr", "blk", "fifo", "sock"} {
		setTimes(t, p(name), nsA, nsM)
	}

	umask := unix.Umask(0)
	unix.Umask(umask)
	perm := func(m uint32) uint32 { return m &^ uint32(umask) }
	want := map[string]tree.Node{
		"file": {Kind: tree.KindFile, Mode: 0o2750, UID: 12345, GID: 54321, Size: 5, Links: 2,
			Xattrs: []tree.Xattr{{Name: "trusted.t", Value: []byte{0, 0xff}},
				{Name: "user.a", Value: []byte{}}, {Name: "user.b", Value: []byte("2")}}},
		"dir":  {Kind: tree.KindDir, Mode: 0o1755, User: "root", Group: "root", Links: 2},
		"link": {Kind: tree.KindSymlink, Mode: 0o777, UID: 12345, GID: 54321, Links: 1, LinkTarget: "tar\xffget"},
		"chr": {Kind: tree.KindCharDev, Mode: perm(0o640), User: "root", Group: "root", Links: 1,
			DevMajor: 1, DevMinor: 7},
		"blk": {Kind: tree.KindBlockDev, Mode: perm(0o600), User: "root", Group: "root", Links: 1,
			DevMajor: 7, DevMinor: 99},
		"fifo": {Kind: tree.KindFIFO, Mode: perm(0o644), User: "root", Group: "root", Links: 1},
		"sock": {Kind: tree.KindSocket, Mode: perm(0o755), User: "root", Group: "root", Links: 1},
	}
	for name, w := range want {
		n, err := fsmeta.Stat(p(name))
		if err != nil {
			t.Fatal(err)
		}
		st := lstat(t, p(name))
		w.Name, w.MTime, w.ATime = name, nsM, nsA
		w.CTime, w.Dev, w.Inode = st.Ctim.Nano(), st.Dev, st.Ino
		if !reflect.DeepEqual(*n, w) {
			t.Errorf("Stat(%s) =\n %+v\nwant\n %+v", name, *n, w)
		}
	}

	n, err := fsmeta.Stat(p("bad-\xff\xfe name\n"))
	must(t, err)
	if n.Name != "bad-\xff\xfe name\n" {
		t.Errorf("Name = %q", n.Name)
	}
	h, err := fsmeta.Stat(p("hard"))
	must(t, err)
	if f, _ := fsmeta.Stat(p("file")); h.Inode != f.Inode || h.Dev != f.Dev || h.Links != 2 {
		t.Errorf("hardlinks: %d/%d links %d vs %d/%d", h.Dev, h.Inode, h.Links, f.Dev, f.Inode)
	}

	_, err = fsmeta.Stat(p("missing"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p("missing")) {
		t.Errorf("Stat(missing) = %v, want ENOENT naming the path", err)
	}
}

// TestStatACLAndCapability reads the system.posix_acl_* and
// security.capability attributes back as they were set.
func TestStatACLAndCapability(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	must(t, os.WriteFile(f, nil, 0o600))
	must(t, unix.Lsetxattr(f, "system.posix_acl_access", accessACL660, 0))
	must(t, unix.Lsetxattr(f, "security.capability", capNetBind, 0))
	must(t, unix.Lsetxattr(dir, "system.posix_acl_default", accessACL660, 0))
	n, err := fsmeta.Stat(f)
	must(t, err)
	want := []tree.Xattr{
		{Name: "security.capability", Value: capNetBind},
		{Name: "system.posix_acl_access", Value: accessACL660},
	}
	if !reflect.DeepEqual(n.Xattrs, want) || n.Mode != 0o660 {
		t.Errorf("file: mode %#o xattrs %q", n.Mode, n.Xattrs)
	}
	d, err := fsmeta.Stat(dir)
	must(t, err)
	if len(d.Xattrs) != 1 || d.Xattrs[0].Name != "system.posix_acl_default" {
		t.Errorf("dir xattrs %q", d.Xattrs)
	}
}

// TestStatLongPath stats and lists through a path of about 3000 bytes.
func TestStatLongPath(t *testing.T) {
	p := t.TempDir()
	for i := range 15 {
		p = filepath.Join(p, strings.Repeat(string(rune('a'+i)), 200))
		must(t, unix.Mkdir(p, 0o755))
	}
	leaf := filepath.Join(p, "leaf\xff")
	must(t, os.WriteFile(leaf, []byte("x"), 0o644))
	if len(leaf) < 2900 {
		t.Fatalf("path only %d bytes", len(leaf))
	}
	n, err := fsmeta.Stat(leaf)
	must(t, err)
	if n.Name != "leaf\xff" || n.Size != 1 {
		t.Errorf("Stat = %+v", n)
	}
	names, err := fsmeta.ReadDirNames(p)
	must(t, err)
	if len(names) != 1 || names[0] != "leaf\xff" {
		t.Errorf("ReadDirNames = %q", names)
	}
}
