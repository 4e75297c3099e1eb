// Package testtree builds a source tree holding every kind of entry and
// attribute a snapshot must preserve, and compares two trees attribute by
// attribute, for the tests of ingest, restore and the mounted tree.
//
// Build and Compare need root (device nodes, foreign owners, trusted. and
// security. xattrs); Build skips the test otherwise.
package testtree

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Paths of some entries Build makes, relative to its dir, for tests that
// modify a copy and expect Compare to notice.
const (
	FileSmall    = "files/small"        // 3 KiB or so of random data
	FileText     = "files/text.txt"     // compressible text
	FileBig      = "files/big.bin"      // random, over 16 MiB
	LinkPairA    = "links/pair-a"       // hardlinked with LinkPairB
	LinkPairB    = "links/pair-b"       //
	XattrFile    = "xattrs/file"        // user., trusted. and security. xattrs
	SparseMiddle = "sparse/hole-middle" // data, a 32 MiB hole, data
	Symlink      = "symlinks/relative"  // a relative symlink with its own times
)

// Nameless owner ids: no user or group has them.
const (
	NamelessUID = 12345
	NamelessGID = 54321
)

const (
	kib = 1 << 10
	mib = 1 << 20
)

// Build creates a deterministic tree under dir (created if missing, and
// expected to be empty) from seed: the same seed gives the same names,
// sizes, bytes, holes, owners, modes, xattrs and nanosecond times. It holds
//
//   - regular files of 0 bytes, 1 byte, a few KiB, several of 1–8 MiB of
//     random data, compressible text, one random file over 16 MiB, and one
//     with an mtime before 1970;
//   - sparse files: a hole in the middle, a leading hole, a trailing hole,
//     many small extents, and 64 MiB of nothing but hole;
//   - hardlinks: a pair in one directory, a trio across three directories;
//   - a character device 1:7, a block device 7:99, a fifo and a socket;
//   - modes 06755 (also on a file owned by a nameless user), 0000, 0600, a
//     sticky 01777 directory and a setgid directory;
//   - entries owned by root and by NamelessUID:NamelessGID, symlink included;
//   - xattrs in user., trusted. and security. (empty and binary values, on
//     files, directories, a symlink and a device), security.capability
//     (cap_net_bind_service+ep), system.posix_acl_access on a file and a
//     directory, system.posix_acl_default on a directory with a file and a
//     directory created after it that inherited it;
//   - empty directories, names that are not UTF-8 or hold spaces and
//     newlines, relative, absolute, dangling and non-UTF-8 symlinks;
//   - a directory chain of 200-byte names some 3000 bytes deep.
//
// Every entry, dir itself included, gets random nanosecond atime and mtime,
// set last and directories after their contents. About 45 MiB is written.
func Build(tb testing.TB, dir string, seed int64) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("testtree: Build needs root (device nodes, owners, trusted xattrs)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("testtree: %v", err)
	}
	b := newBuilder(tb, dir, seed)
	b.record(".", 0o755)
	buildFiles(b)
	buildSparse(b)
	buildLinks(b)
	buildSpecial(b)
	buildModes(b)
	buildXattrs(b)
	buildNames(b)
	buildLong(b)
	b.finish()
}

func buildFiles(b *builder) {
	b.dir("files")
	b.file("files/empty", nil)
	b.file("files/one", []byte{'x'})
	b.randFile(FileSmall, 3*kib+b.rnd.Int64N(kib))
	for i := range 3 {
		b.randFile(fmt.Sprintf("files/random-%d.bin", i), mib+b.rnd.Int64N(7*mib))
	}
	b.randFile(FileBig, 16*mib+b.rnd.Int64N(mib)+1)
	var text strings.Builder
	for i := 0; text.Len() < 256*kib; i++ {
		fmt.Fprintf(&text, "line %d: cairn keeps every byte, hole and attribute (%d)\n", i, b.rnd.IntN(100))
	}
	b.file(FileText, []byte(text.String()))
	old := b.file("files/before-1970", []byte("old\n"))
	old.mtime = -86400*365*3*1_000_000_000 + 123_456_789
}

func buildSparse(b *builder) {
	b.dir("sparse")
	b.sparse(SparseMiddle, 34*mib, [2]int64{0, mib}, [2]int64{33 * mib, mib})
	b.sparse("sparse/hole-start", 16*mib+256*kib, [2]int64{16 * mib, 256 * kib})
	b.sparse("sparse/hole-end", 8*mib, [2]int64{0, 512 * kib})
	var many [][2]int64
	for i := range int64(8) {
		many = append(many, [2]int64{i*mib + 512*kib, 64 * kib})
	}
	b.sparse("sparse/many-extents", 8*mib+100, many...)
	b.sparse("sparse/all-hole", 64*mib)
}

func buildLinks(b *builder) {
	b.dir("links")
	b.randFile(LinkPairA, 10*kib)
	b.link(LinkPairA, LinkPairB)
	b.dir("links/other")
	b.dir("links/other/deeper")
	b.file("links/trio-1", []byte("three names, one inode\n"))
	b.link("links/trio-1", "links/other/trio-2")
	b.link("links/trio-1", "links/other/deeper/trio-3")
}

func buildSpecial(b *builder) {
	b.dir("special")
	cd := b.mknod("special/chardev", unix.S_IFCHR, 1, 7)
	cd.xattrs = append(cd.xattrs, xattr{"trusted.device", []byte("full")})
	b.mknod("special/blockdev", unix.S_IFBLK, 7, 99).mode = 0o660
	b.mknod("special/fifo", unix.S_IFIFO, 0, 0).mode = 0o620
	b.mknod("special/socket", unix.S_IFSOCK, 0, 0).mode = 0o777
}

func buildModes(b *builder) {
	b.dir("modes")
	b.file("modes/setuid-root", []byte("#!/bin/true\n")).mode = 0o6755
	su := b.file("modes/setuid-nameless", []byte("#!/bin/true\n"))
	su.mode, su.uid, su.gid = 0o6755, NamelessUID, NamelessGID
	b.file("modes/no-permissions", []byte("secret\n")).mode = 0o000
	b.file("modes/private", []byte("private\n")).mode = 0o600
	b.dir("modes/sticky").mode = 0o1777
	b.file("modes/sticky/inside", []byte("in /tmp-like dir\n")).mode = 0o666
	sg := b.dir("modes/setgid")
	sg.mode, sg.gid = 0o2775, NamelessGID
	b.file("modes/setgid/inside", []byte("group inherited\n")).gid = NamelessGID
	sub := b.dir("modes/setgid/subdir")
	sub.mode, sub.gid = 0o2755, NamelessGID

	b.dir("owners")
	b.file("owners/root", []byte("root\n"))
	n := b.file("owners/nameless", []byte("nobody we know\n"))
	n.uid, n.gid = NamelessUID, NamelessGID
	nd := b.dir("owners/nameless-dir")
	nd.uid, nd.gid = NamelessUID, NamelessGID
	nl := b.symlink("owners/nameless-link", "nameless")
	nl.uid, nl.gid = NamelessUID, NamelessGID
	mixed := b.file("owners/uid-only", nil)
	mixed.uid = NamelessUID
}

func buildXattrs(b *builder) {
	b.dir("xattrs")
	f := b.file(XattrFile, []byte("attributed\n"))
	big := make([]byte, 1000)
	_, _ = b.bytes.Read(big)
	f.xattrs = []xattr{
		{"user.comment", []byte("hello, xattrs")},
		{"user.empty", []byte{}},
		{"user.binary", []byte{0, 1, 2, 0xff, 0, '\n'}},
		{"user.big", big},
		{"trusted.cairn", []byte("trusted value")},
		{"security.cairn", []byte("security value")},
	}
	d := b.dir("xattrs/dir")
	d.xattrs = []xattr{{"user.dir", []byte("on a directory")}, {"trusted.dir", []byte{0}}}
	l := b.symlink("xattrs/symlink", "file")
	l.xattrs = []xattr{{"trusted.link", []byte("on the link itself")}}

	capv := encodeCapV2(1<<capNetBindSvc, true)
	b.file("xattrs/capability", []byte("#!/bin/true\n")).xattrs = []xattr{{"security.capability", capv}}
	c := b.file("xattrs/capability-nameless", []byte("#!/bin/true\n"))
	c.uid, c.gid, c.mode = NamelessUID, NamelessGID, 0o750
	c.xattrs = []xattr{{"security.capability", capv}}

	// Access ACLs whose mask equals the group bits of the mode they get.
	acl := b.file("xattrs/acl-file", []byte("acl\n"))
	acl.mode = 0o660
	acl.xattrs = []xattr{{"system.posix_acl_access", encodeACL(
		aclEntry{aclUserObj, 6, aclNoID},
		aclEntry{aclUser, 4, NamelessUID},
		aclEntry{aclGroupObj, 4, aclNoID},
		aclEntry{aclGroup, 6, NamelessGID},
		aclEntry{aclMask, 6, aclNoID},
		aclEntry{aclOther, 0, aclNoID},
	)}}
	ad := b.dir("xattrs/acl-dir")
	ad.mode = 0o775
	ad.xattrs = []xattr{{"system.posix_acl_access", encodeACL(
		aclEntry{aclUserObj, 7, aclNoID},
		aclEntry{aclUser, 7, NamelessUID},
		aclEntry{aclGroupObj, 5, aclNoID},
		aclEntry{aclMask, 7, aclNoID},
		aclEntry{aclOther, 5, aclNoID},
	)}}
	// Set before the children are made, so they inherit it.
	b.setXattrNow(ad, "system.posix_acl_default", encodeACL(
		aclEntry{aclUserObj, 7, aclNoID},
		aclEntry{aclGroupObj, 5, aclNoID},
		aclEntry{aclGroup, 7, NamelessGID},
		aclEntry{aclMask, 7, aclNoID},
		aclEntry{aclOther, 0, aclNoID},
	))
	b.file("xattrs/acl-dir/inherited", []byte("inherits an access acl\n")).mode = 0o640
	b.dir("xattrs/acl-dir/inherited-dir").mode = 0o750
}

func buildNames(b *builder) {
	b.dir("names")
	b.file("names/bad-\xff\xfe-name", []byte("not utf-8\n"))
	b.file("names/with space", []byte("space\n"))
	b.file("names/new\nline", []byte("newline\n"))
	b.file("names/ leading and trailing ", []byte("spaces\n"))
	b.file("names/-dash", []byte("dash\n"))
	b.file("names/ünïcødé ✓", []byte("valid utf-8\n"))
	b.dir("names/dir-\xc3\x28")
	b.file("names/dir-\xc3\x28/tab\there", []byte("tab\n"))
	b.dir("empty")
	b.dir("names/empty-\x80")

	b.dir("symlinks")
	b.symlink(Symlink, "../files/small")
	b.symlink("symlinks/absolute", "/etc/cairn-testtree/absolute-target")
	b.symlink("symlinks/dangling", "does/not/exist")
	b.symlink("symlinks/to-dir", "../names")
	b.symlink("symlinks/bad-target", "bad-\xff-target")
}

// buildLong makes a chain of 15 directories with 200-byte names, about
// 3000 bytes below dir, so dir may be some 1000 bytes long before a path
// reaches PATH_MAX.
func buildLong(b *builder) {
	rel := "long"
	b.dir(rel)
	for i := range 15 {
		rel += "/" + fmt.Sprintf("%02d-", i) + strings.Repeat(string(rune('a'+i)), 197)
		b.dir(rel)
	}
	b.file(rel+"/leaf", []byte("deep down\n"))
	b.symlink(rel+"/leaf-link", "leaf")
	b.dir(rel + "/empty")
}
