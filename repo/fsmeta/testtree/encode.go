package testtree

import "encoding/binary"

// POSIX ACL entry tags and the version of the xattr format, as in the
// kernel's include/uapi/linux/posix_acl_xattr.h and posix_acl.h.
const (
	aclVersion  = 2
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
	aclNoID     = 0xffffffff // the id of the *_OBJ, MASK and OTHER entries
)

// aclEntry is one entry of a POSIX ACL: a tag, rwx bits and, for named
// users and groups, the numeric id.
type aclEntry struct {
	tag  uint16
	perm uint16
	id   uint32
}

// encodeACL returns the system.posix_acl_* value for entries: a little-endian
// u32 version, then per entry u16 tag, u16 perm, u32 id. The kernel rejects
// a list that is not sorted by tag then id, lacks an obj entry, or has named
// entries without a mask, so callers list them in that order.
func encodeACL(entries ...aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// VFS capability revision 2 and its effective flag, from
// include/uapi/linux/capability.h.
const (
	vfsCapRevision2 = 0x02000000
	vfsCapEffective = 0x000001
	capNetBindSvc   = 10
)

// encodeCapV2 returns a security.capability value (struct vfs_cap_data,
// revision 2) granting the capabilities in permitted, raised as effective
// when effective is set, with nothing inheritable: magic_etc, then for the
// low and high 32 capability bits a permitted and an inheritable word.
func encodeCapV2(permitted uint64, effective bool) []byte {
	magic := uint32(vfsCapRevision2)
	if effective {
		magic |= vfsCapEffective
	}
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(permitted))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(permitted>>32))
	b = binary.LittleEndian.AppendUint32(b, 0)
	return b
}
