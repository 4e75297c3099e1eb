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
	// Incomplete marks a directory whose entries the ingest could not all
	// read: it could not be listed, or an entry in it was left out. What
	// the snapshot lacks there may still exist, so restore --delete keeps
	// it.
	Incomplete bool
	// Flags are the inode flags chattr sets (FS_IOC_GETFLAGS bits, see
	// fsmeta.FlagsKept): immutable, append-only, nodump, noatime, sync,
	// dirsync, topdir, no-copy-on-write. Zero when none, or not read.
	Flags uint32
}

// StatSize is the size stat and ls -l give the node: a file's length, a
// symlink's target's length (Size is 0 for a symlink), 0 for the rest.
func (n *Node) StatSize() uint64 {
	if n.Kind == KindSymlink {
		return uint64(len(n.LinkTarget))
	}
	return n.Size
}

// LsMode renders the node's type and permissions as ls -l does
// (drwxr-sr-t, crw-r-----, lrwxrwxrwx).
func (n *Node) LsMode() string {
	b := []byte("-rwxrwxrwx")
	switch n.Kind {
	case KindDir:
		b[0] = 'd'
	case KindSymlink:
		b[0] = 'l'
	case KindCharDev:
		b[0] = 'c'
	case KindBlockDev:
		b[0] = 'b'
	case KindFIFO:
		b[0] = 'p'
	case KindSocket:
		b[0] = 's'
	}
	for i := 0; i < 9; i++ {
		if n.Mode&(1<<(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := func(bit uint32, pos int, set, unset byte) {
		if n.Mode&bit != 0 {
			if b[pos] == 'x' {
				b[pos] = set
			} else {
				b[pos] = unset
			}
		}
	}
	special(0o4000, 3, 's', 'S')
	special(0o2000, 6, 's', 'S')
	special(0o1000, 9, 't', 'T')
	return string(b)
}
