package testtree

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// DeepLevels folders of DeepNameLen-byte names make BuildDeep's chain.
const (
	DeepLevels  = 30
	DeepNameLen = 200
)

// DeepBottom is the folder at the bottom of BuildDeep's chain, relative
// to its dir: some 6000 bytes long.
var DeepBottom = deepBottom()

func deepBottom() string {
	var parts []string
	for i := range DeepLevels {
		prefix := fmt.Sprintf("c%02d-", i)
		parts = append(parts, prefix+strings.Repeat(string(rune('a'+i%26)), DeepNameLen-len(prefix)))
	}
	return strings.Join(parts, "/")
}

// BuildDeep creates under dir (created if missing, and expected to be
// empty) a tree whose paths are longer than PATH_MAX (4096 bytes), which
// no system call takes whole: a chain of DeepLevels folders with
// DeepNameLen-byte names (DeepBottom), holding at the bottom
//
//   - a regular file with user. and trusted. xattrs and an access ACL,
//     owned by NamelessUID:NamelessGID;
//   - a sparse file (data, a hole, data, a trailing hole);
//   - a symlink with a trusted. xattr of its own, and a dangling one;
//   - a fifo, a character device 1:3 and a socket;
//   - a hardlink pair whose third name is at the top, and a second name
//     of a file at the top (so links go both ways between long and short
//     paths);
//   - a folder with a default ACL and an empty folder;
//
// and xattrs on a folder half way down. Every entry gets an owner, a mode
// and random nanosecond times, set last and folders after their contents,
// as in Build. Like Build it needs root.
func BuildDeep(tb testing.TB, dir string, seed int64) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("testtree: BuildDeep needs root (device nodes, owners, trusted xattrs)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("testtree: %v", err)
	}
	b := newBuilder(tb, dir, seed)
	b.record(".", 0o755)
	b.file("a-top-file", []byte("a short path, linked from a long one\n")).mode = 0o640
	rel := ""
	for i, name := range strings.Split(DeepBottom, "/") {
		if rel != "" {
			rel += "/"
		}
		rel += name
		m := b.dir(rel)
		if i == DeepLevels/2 {
			m.mode = 0o750
			m.xattrs = []xattr{{"user.halfway", []byte("half way down")}, {"trusted.halfway", []byte{0, 1}}}
		}
	}
	at := func(name string) string { return rel + "/" + name }

	f := b.randFile(at("file"), 100*kib+b.rnd.Int64N(kib))
	f.uid, f.gid, f.mode = NamelessUID, NamelessGID, 0o640
	f.xattrs = []xattr{
		{"user.comment", []byte("deep down")},
		{"user.empty", []byte{}},
		{"trusted.cairn", []byte{0, 0xff, 1}},
		{"system.posix_acl_access", encodeACL(
			aclEntry{aclUserObj, 6, aclNoID},
			aclEntry{aclUser, 4, 4242},
			aclEntry{aclGroupObj, 4, aclNoID},
			aclEntry{aclMask, 4, aclNoID},
			aclEntry{aclOther, 0, aclNoID},
		)},
	}
	b.sparse(at("sparse"), 8*mib, [2]int64{0, 64 * kib}, [2]int64{5 * mib, 64 * kib})
	l := b.symlink(at("symlink"), "file")
	l.uid, l.gid = NamelessUID, NamelessGID
	l.xattrs = []xattr{{"trusted.link", []byte("on the link itself")}}
	b.symlink(at("dangling"), "../no/such/"+strings.Repeat("x", 100))
	b.mknod(at("fifo"), unix.S_IFIFO, 0, 0).mode = 0o620
	cd := b.mknod(at("chardev"), unix.S_IFCHR, 1, 3)
	cd.xattrs = []xattr{{"trusted.device", []byte("null")}}
	b.mknod(at("socket"), unix.S_IFSOCK, 0, 0).mode = 0o777
	b.randFile(at("pair-a"), 20*kib).mode = 0o600
	b.link(at("pair-a"), at("pair-b"))
	b.link(at("pair-a"), "z-top-link")
	b.link("a-top-file", at("top-file-link"))

	ad := b.dir(at("acl-dir"))
	ad.mode = 0o770
	b.setXattrNow(ad, "system.posix_acl_default", encodeACL(
		aclEntry{aclUserObj, 7, aclNoID},
		aclEntry{aclGroupObj, 5, aclNoID},
		aclEntry{aclGroup, 7, NamelessGID},
		aclEntry{aclMask, 7, aclNoID},
		aclEntry{aclOther, 0, aclNoID},
	))
	b.file(at("acl-dir/inherited"), []byte("inherits an access acl\n")).mode = 0o640
	b.dir(at("empty"))
	b.finish()
}
