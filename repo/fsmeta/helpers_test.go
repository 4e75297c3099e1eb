package fsmeta_test

import (
	"encoding/binary"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	nsA = 1_100_000_000*1_000_000_000 + 123_456_789 // an atime
	nsM = 1_200_000_000*1_000_000_000 + 987_654_321 // an mtime
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs it")
		}
		t.Skip("needs root")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func lstat(t testing.TB, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(path, &st))
	return &st
}

func setTimes(t testing.TB, path string, atime, mtime int64) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW))
}

// acl encodes a POSIX ACL xattr value from {tag, perm, id} triples.
func acl(entries ...[3]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e[0]))
		b = binary.LittleEndian.AppendUint16(b, uint16(e[1]))
		b = binary.LittleEndian.AppendUint32(b, e[2])
	}
	return b
}

const noID = 0xffffffff

// accessACL660 is an access ACL consistent with mode 0660: the mask (rw)
// is the group bits.
var accessACL660 = acl(
	[3]uint32{0x01, 6, noID},  // user::rw-
	[3]uint32{0x02, 4, 12345}, // user:12345:r--
	[3]uint32{0x04, 4, noID},  // group::r--
	[3]uint32{0x10, 6, noID},  // mask::rw-
	[3]uint32{0x20, 0, noID},  // other::---
)

// capNetBind is security.capability revision 2 with cap_net_bind_service
// permitted and effective.
var capNetBind = []byte{1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
