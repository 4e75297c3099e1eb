package fs

import (
	"context"
	"sort"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// vdirNode is a folder of the virtual part: the root, snapshots/, hosts/...
// Its entries come from the current catalogue at every call.
type vdirNode struct {
	gofs.Inode
	readOnly
	f      *fsys
	path   string
	parent uint64 // inode number of the folder it is in
}

var (
	_ gofs.NodeLookuper  = (*vdirNode)(nil)
	_ gofs.NodeReaddirer = (*vdirNode)(nil)
	_ gofs.NodeGetattrer = (*vdirNode)(nil)
	_ gofs.NodeStatfser  = (*vdirNode)(nil)
)

func (n *vdirNode) entries() *vdir {
	if d := n.f.catalogue().dirs[n.path]; d != nil {
		return d
	}
	return &vdir{} // a folder whose snapshots were all removed
}

func (n *vdirNode) childPath(name string) string {
	if n.path == "" {
		return name
	}
	return n.path + "/" + name
}

func (n *vdirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if len(name) > nameMax {
		return nil, syscall.ENAMETOOLONG
	}
	e, ok := n.entries().find(name)
	if !ok {
		out.SetEntryTimeout(virtualTimeout)
		return nil, syscall.ENOENT
	}
	p := n.childPath(name)
	switch e.kind {
	case vDir:
		ino := n.f.virtualIno("d:" + p)
		n.f.virtualAttr(&out.Attr, ino, syscall.S_IFDIR|0o555)
		out.SetEntryTimeout(virtualTimeout)
		out.SetAttrTimeout(virtualTimeout)
		if ch := n.known(name, ino); ch != nil {
			return ch, 0
		}
		ch := &vdirNode{f: n.f, path: p, parent: n.StableAttr().Ino}
		return n.f.dirInode(ctx, n.EmbeddedInode(), ch, ino), 0
	case vLink:
		// A new target is a new inode, so the kernel drops its cached
		// link within the entry timeout.
		ino := n.f.virtualIno("l:" + p + "\x00" + e.target)
		ch := &vlinkNode{f: n.f, target: e.target}
		ch.attr(&out.Attr, ino)
		out.SetEntryTimeout(virtualTimeout)
		out.SetAttrTimeout(virtualTimeout)
		return n.NewInode(ctx, ch, gofs.StableAttr{Mode: syscall.S_IFLNK, Ino: ino}), 0
	default:
		s := n.f.snapState(e.snap)
		tctx, cancel := untilKilled(ctx, n.f.opt.ReadTimeout)
		defer cancel()
		root, err := s.rootNode(tctx, n.f.r, n.f.opt.AllowOther)
		if err != nil {
			if !interrupted(tctx, err) {
				n.f.warnOnce("root "+e.snap.ID.String(), "snapshot %s (%s): %v", e.snap.ID.Short(), p, n.f.noAnswer(err))
			}
			return nil, readErrno(tctx, err)
		}
		ino := n.f.virtualIno("s:" + p + "\x00" + e.snap.ID.String())
		if ch := n.known(name, ino); ch != nil {
			ch.Operations().(*dirNode).fill(&out.Attr, ino)
			out.SetEntryTimeout(virtualTimeout)
			out.SetAttrTimeout(stableTimeout)
			return ch, 0
		}
		ch := &dirNode{f: n.f, snap: s, node: root, parent: n.StableAttr().Ino}
		ch.fill(&out.Attr, ino)
		out.SetEntryTimeout(virtualTimeout)
		out.SetAttrTimeout(stableTimeout)
		return n.f.dirInode(ctx, n.EmbeddedInode(), ch, ino), 0
	}
}

// known returns the node the kernel holds for the entry name when it is
// the folder with inode number ino. A lookup that made a new node object
// for it would register that object for listings (rememberDir) though
// go-fuse keeps the one it has: the kernel's forget of the kept one would
// then leave the folder registered, with what it loaded, for as long as
// the mount lasts, once for every snapshot folder ever looked up again.
func (n *vdirNode) known(name string, ino uint64) *gofs.Inode {
	ch := n.GetChild(name)
	if ch == nil || ch.StableAttr().Ino != ino {
		return nil
	}
	n.f.rememberDir(ino, ch.Operations().(lister)) // as a new node would be
	return ch
}

func (n *vdirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	return listAll(ctx, n)
}

// list lists the folder from the current catalogue. Its entries change
// when snapshots come and go, so an entry's offset is not its position
// (a snapshot removed before the place a reader has reached would make it
// skip one that stays) but a number naming it in this folder: the listing
// goes on after that name, wherever it now is.
func (n *vdirNode) list(ctx context.Context, from uint64, add func(fuse.DirEntry) bool) syscall.Errno {
	d := n.entries()
	dots := dotEntries(n.StableAttr().Ino, n.parent)
	for i := from; i < uint64(len(dots)); i++ {
		de := dots[i]
		de.Off = i + 1
		if !add(de) {
			return 0
		}
	}
	start := 0
	if from > uint64(len(dots)) {
		name, ok := n.f.offName(from)
		if !ok {
			return 0 // not an offset this folder gave: nothing after it
		}
		start = sort.Search(len(d.entries), func(i int) bool { return d.entries[i].name > name })
	}
	for _, e := range d.entries[start:] {
		var de fuse.DirEntry
		p := n.childPath(e.name)
		switch e.kind {
		case vDir:
			de = fuse.DirEntry{Name: e.name, Mode: syscall.S_IFDIR, Ino: n.f.virtualIno("d:" + p)}
		case vLink:
			de = fuse.DirEntry{Name: e.name, Mode: syscall.S_IFLNK, Ino: n.f.virtualIno("l:" + p + "\x00" + e.target)}
		default:
			de = fuse.DirEntry{Name: e.name, Mode: syscall.S_IFDIR, Ino: n.f.virtualIno("s:" + p + "\x00" + e.snap.ID.String())}
		}
		de.Off = n.f.entryOff(p, e.name)
		if !add(de) {
			break
		}
	}
	return 0
}

func (n *vdirNode) OnForget() { n.f.forgetDir(n.StableAttr().Ino, n) }

// plusLookups is false: a READDIRPLUS of snapshots/ must not load the
// trees of every snapshot to describe its root (ls -l will look them up).
func (n *vdirNode) plusLookups() bool { return false }

func (n *vdirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.f.virtualAttr(&out.Attr, n.StableAttr().Ino, syscall.S_IFDIR|0o555)
	out.SetTimeout(virtualTimeout)
	return 0
}

func (n *vdirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.Frsize = 4096
	out.NameLen = nameMax
	return 0
}

// nameMax is the longest name (in bytes) the tree holds, as on the
// Linux file systems snapshots come from: a longer one is ENAMETOOLONG,
// not ENOENT, as it was there.
const nameMax = 255

// virtualAttr describes a virtual entry: owned by the mounting user, with
// the time the set of snapshots was last seen to change.
func (f *fsys) virtualAttr(a *fuse.Attr, ino uint64, mode uint32) {
	// The time the catalogue last changed: a new mtime tells the kernel
	// to drop its cached listings of these folders.
	t := f.catalogue().built
	a.Ino = ino
	a.Mode = mode
	a.Nlink = 1
	a.Owner = fuse.Owner{Uid: f.uid, Gid: f.gid}
	a.Blksize = 4096
	a.SetTimes(&t, &t, &t)
}

// vlinkNode is a latest link.
type vlinkNode struct {
	gofs.Inode
	readOnly
	f      *fsys
	target string
}

func (n *vlinkNode) attr(a *fuse.Attr, ino uint64) {
	n.f.virtualAttr(a, ino, syscall.S_IFLNK|0o777)
	a.Size = uint64(len(n.target))
}

func (n *vlinkNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.attr(&out.Attr, n.StableAttr().Ino)
	out.SetTimeout(virtualTimeout)
	return 0
}

func (n *vlinkNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	return []byte(n.target), 0
}

// dotEntries are "." and ".." for a folder's listing.
func dotEntries(self, parent uint64) []fuse.DirEntry {
	return []fuse.DirEntry{
		{Name: ".", Mode: syscall.S_IFDIR, Ino: self},
		{Name: "..", Mode: syscall.S_IFDIR, Ino: parent},
	}
}

// readOnly answers EROFS to every call that would change the tree.
type readOnly struct{}

func (readOnly) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
func (readOnly) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnly) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnly) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnly) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}
func (readOnly) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}
func (readOnly) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }
func (readOnly) Rmdir(ctx context.Context, name string) syscall.Errno  { return syscall.EROFS }
func (readOnly) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}
func (readOnly) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}
func (readOnly) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.EROFS }
