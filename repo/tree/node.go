// Package tree defines the snapshot's directory entries (nodes) and the
// binary encoding of a tree blob: one directory's sorted list of nodes.
package tree

import (
	"github.com/cairn-backup/cairn/repo/id"
)

// Kind is a node's file type.
type Kind uint8

const (
	KindFile     Kind = 1
	KindDir      Kind = 2
	KindSymlink  Kind = 3
	KindCharDev  Kind = 4
	KindBlockDev Kind = 5
	KindFIFO     Kind = 6
	KindSocket   Kind = 7
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	case KindCharDev:
		return "chardev"
	case KindBlockDev:
		return "blockdev"
	case KindFIFO:
		return "fifo"
	case KindSocket:
		return "socket"
	}
	return "unknown"
}

// Xattr is one extended attribute, in any namespace (user., trusted.,
// security., system.posix_acl_*), stored with its raw value.
type Xattr struct {
	Name  string
	Value []byte
}

// Chunk is one piece of a file's content, in file order. A data chunk names
// a blob; a hole is a run of Size zero bytes that was a hole in the source
// (found with SEEK_HOLE) and is left a hole on restore.
type Chunk struct {
	ID   id.ID // zero for a hole
	Size uint64
	Hole bool
}

// Node is one directory entry with everything restore needs to rebuild it.
// Name is raw bytes held in a Go string: it need not be valid UTF-8.
type Node struct {
	Name string
	Kind Kind
	// Mode holds the permission bits including setuid, setgid and sticky
	// (mode & 07777). The file type is Kind, not part of Mode.
	Mode  uint32
	UID   uint32
	GID   uint32
	User  string // for display only; restore uses UID/GID
	Group string
	// Times are nanoseconds since the Unix epoch.
	MTime int64
	ATime int64
	CTime int64

	Size uint64 // apparent size of a file; 0 for others
	// Dev, Inode and Links identify hardlink groups: regular files (and
	// other non-directories) with Links > 1 sharing (Dev, Inode) in one
	// snapshot are one file with several names.
	Dev   uint64
	Inode uint64
	Links uint32

	DevMajor uint32 // device nodes only
	DevMinor uint32

	LinkTarget string // symlinks only; raw bytes
	Xattrs     []Xattr
	Content    []Chunk // files only
	Subtree    id.ID   // directories only: the tree blob of its entries
}
