package fsmeta

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// Create makes the node n at path for every kind that has no content or
// children: a symlink to n.LinkTarget (raw bytes, not resolved), a
// character or block device with n.DevMajor and n.DevMinor, a fifo or a
// socket. Regular files and directories are the caller's (ErrKind).
//
// Path must not exist (EEXIST otherwise). Device nodes, fifos and sockets
// start with mode 0600 minus the umask; call Apply afterwards to set owner,
// xattrs, mode and times.
func Create(path string, n *tree.Node) error {
	p, err := shorten(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer p.close()
	switch n.Kind {
	case tree.KindSymlink:
		if err = unix.Symlink(n.LinkTarget, p.name); err != nil {
			return fmt.Errorf("symlink %s: %w", path, err)
		}
		return nil
	case tree.KindCharDev:
		err = mknod(p.name, unix.S_IFCHR, unix.Mkdev(n.DevMajor, n.DevMinor))
	case tree.KindBlockDev:
		err = mknod(p.name, unix.S_IFBLK, unix.Mkdev(n.DevMajor, n.DevMinor))
	case tree.KindFIFO:
		err = mknod(p.name, unix.S_IFIFO, 0)
	case tree.KindSocket:
		err = mknod(p.name, unix.S_IFSOCK, 0)
	default:
		return fmt.Errorf("create %s: %s: %w", path, n.Kind, ErrKind)
	}
	if err != nil {
		return fmt.Errorf("mknod %s: %w", path, err)
	}
	return nil
}

func mknod(path string, typ uint32, dev uint64) error {
	return unix.Mknod(path, typ|0o600, int(dev))
}
