package dump

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The POSIX ACL extended attributes, and the PAX records in which GNU tar
// (--acls) and libarchive keep them: the short text form with numeric ids.
var aclRecords = map[string]string{
	"system.posix_acl_access":  "SCHILY.acl.access",
	"system.posix_acl_default": "SCHILY.acl.default",
}

// aclText turns the kernel's binary form of a POSIX ACL (a version-2
// header, then 8-byte entries: tag, permissions, id, little-endian) into
// its short text form, "user::rw-,user:1000:r--,group::r--,mask::r--,other::r--".
func aclText(b []byte) (string, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != 2 {
		return "", fmt.Errorf("not a version 2 POSIX ACL (%d bytes)", len(b))
	}
	var out []string
	for e := b[4:]; len(e) > 0; e = e[8:] {
		tag, perm, uid := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
		var who string
		switch tag {
		case 0x01:
			who = "user:"
		case 0x02:
			who = fmt.Sprintf("user:%d", uid)
		case 0x04:
			who = "group:"
		case 0x08:
			who = fmt.Sprintf("group:%d", uid)
		case 0x10:
			who = "mask:"
		case 0x20:
			who = "other:"
		default:
			return "", fmt.Errorf("unknown ACL entry tag %#x", tag)
		}
		rwx := []byte("---")
		for i, bit := range []uint16{4, 2, 1} {
			if perm&bit != 0 {
				rwx[i] = "rwx"[i]
			}
		}
		out = append(out, who+":"+string(rwx))
	}
	return strings.Join(out, ","), nil
}
