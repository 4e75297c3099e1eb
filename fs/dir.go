package fs

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/tree"
)

// dirNode is a folder inside a snapshot. Its tree is loaded when it is
// first entered.
type dirNode struct {
	gofs.Inode
	readOnly
	f      *fsys
	snap   *snapState
	node   *tree.Node
	parent uint64 // inode number of the folder it is in

	mu      sync.Mutex
	loaded  bool
	loading chan struct{} // while a caller loads the tree: closed when it is done
	kids    []*tree.Node
	pfNext  int // kids before this have had their content queued
}

var (
	_ gofs.NodeLookuper    = (*dirNode)(nil)
	_ gofs.NodeReaddirer   = (*dirNode)(nil)
	_ gofs.NodeGetattrer   = (*dirNode)(nil)
	_ gofs.NodeGetxattrer  = (*dirNode)(nil)
	_ gofs.NodeListxattrer = (*dirNode)(nil)
)

// load returns the folder's entries, loading its tree the first time.
// One caller loads it; the others wait for that load, or for their own
// ctx to end (the kernel interrupting them), and load it themselves when
// that one failed.
func (d *dirNode) load(ctx context.Context) ([]*tree.Node, error) {
	d.mu.Lock()
	if d.loaded {
		// Every lookup and listing comes here: no timer for them.
		defer d.mu.Unlock()
		return d.kids, nil
	}
	d.mu.Unlock()
	ctx, cancel := untilKilled(ctx, d.f.opt.ReadTimeout)
	defer cancel()
	for {
		d.mu.Lock()
		if d.loaded {
			d.mu.Unlock()
			return d.kids, nil
		}
		wait := d.loading
		if wait == nil {
			break // d.mu held: this caller loads
		}
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	done := make(chan struct{})
	d.loading = done
	d.mu.Unlock()
	kids, err := d.fetch(ctx)
	d.mu.Lock()
	if err == nil {
		d.kids, d.loaded = kids, true
	}
	d.loading = nil
	d.mu.Unlock()
	close(done)
	return kids, err
}

// fetch reads the folder's tree.
func (d *dirNode) fetch(ctx context.Context) ([]*tree.Node, error) {
	if d.node.Subtree.IsZero() {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.f.opt.ReadTimeout)
	defer cancel()
	kids, skipped, err := d.f.r.LoadTreePartial(ctx, d.node.Subtree)
	if interrupted(ctx, err) {
		return nil, err
	}
	if err != nil {
		d.f.warnOnce("tree "+d.node.Subtree.String(), "%s (snapshot %s): %v",
			d.Path(nil), d.snap.sn.ID.Short(), d.f.noAnswer(err))
		return nil, err // not kept: the next look may succeed
	}
	if skipped != nil {
		// The folder shows the entries that decode.
		d.f.warnOnce("tree "+d.node.Subtree.String(), "%s (snapshot %s): %v",
			d.Path(nil), d.snap.sn.ID.Short(), skipped)
	}
	return kids, nil
}

// How far prefetchAfter looks ahead of an opened file.
const (
	siblingBytes = 8 << 20
	siblingFiles = 64
)

// prefetchAfter queues the content of the files that follow name in the
// folder, up to siblingBytes or siblingFiles ahead: a program copying a
// folder (cp, rsync, tar) opens them next, in this order, and fetching
// them meanwhile keeps the other cores busy.
func (d *dirNode) prefetchAfter(name string) {
	d.mu.Lock()
	i := -1
	if d.loaded {
		i = findNode(d.kids, name)
	}
	if i < 0 {
		d.mu.Unlock()
		return
	}
	var want []tree.Chunk
	budget := uint64(siblingBytes)
	j := i + 1
	for ; j < len(d.kids) && j <= i+siblingFiles; j++ {
		k := d.kids[j]
		if k.Kind != tree.KindFile {
			continue
		}
		if k.Size > budget {
			break // a large file gets read-ahead of its own once opened
		}
		budget -= k.Size
		if j >= d.pfNext {
			want = append(want, k.Content...)
		}
	}
	d.pfNext = max(d.pfNext, j)
	d.mu.Unlock()
	for _, c := range want {
		if !c.Hole {
			d.f.chunks.prefetch(c.ID, int(c.Size))
		}
	}
}

// kidIno is the inode number of kids[i], kids being what load returned.
func (d *dirNode) kidIno(kids []*tree.Node, i int) uint64 {
	if k := kids[i]; inHardlinkGroup(k) {
		return d.snap.linkIno(d.f, k)
	}
	return d.f.kidBase(d.StableAttr().Ino, len(kids)) + uint64(i)
}

func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	if len(name) > nameMax {
		return nil, syscall.ENAMETOOLONG
	}
	kids, err := d.load(ctx)
	if err != nil {
		return nil, readErrno(ctx, err)
	}
	out.SetEntryTimeout(stableTimeout)
	out.SetAttrTimeout(stableTimeout)
	i := findNode(kids, name)
	if i < 0 {
		return nil, syscall.ENOENT
	}
	k := kids[i]
	if ch := d.GetChild(name); ch != nil {
		ch.Operations().(attrFiller).fill(&out.Attr, ch.StableAttr().Ino)
		return ch, 0
	}
	ino := d.kidIno(kids, i)
	if k.Kind == tree.KindDir {
		dn := &dirNode{f: d.f, snap: d.snap, node: k, parent: d.StableAttr().Ino}
		dn.fill(&out.Attr, ino)
		return d.f.dirInode(ctx, d.EmbeddedInode(), dn, ino), 0
	}
	ch := &leafNode{f: d.f, snap: d.snap, node: k}
	ch.fill(&out.Attr, ino)
	return d.NewInode(ctx, ch, gofs.StableAttr{Mode: kindMode(k.Kind), Ino: ino}), 0
}

func (d *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	return listAll(ctx, d)
}

func (d *dirNode) list(ctx context.Context, from uint64, add func(fuse.DirEntry) bool) syscall.Errno {
	kids, err := d.load(ctx)
	if err != nil {
		return readErrno(ctx, err)
	}
	dots := dotEntries(d.StableAttr().Ino, d.parent)
	for i := from; i < uint64(len(dots)+len(kids)); i++ {
		var e fuse.DirEntry
		if i < uint64(len(dots)) {
			e = dots[i]
		} else {
			k := i - uint64(len(dots))
			e = fuse.DirEntry{Name: kids[k].Name, Mode: kindMode(kids[k].Kind), Ino: d.kidIno(kids, int(k))}
		}
		e.Off = i + 1
		if !add(e) {
			break
		}
	}
	return 0
}

func (d *dirNode) OnForget() { d.f.forgetDir(d.StableAttr().Ino, d) }

func (d *dirNode) plusLookups() bool { return true }

func (d *dirNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fill(&out.Attr, d.StableAttr().Ino)
	out.SetTimeout(stableTimeout)
	return 0
}

func (d *dirNode) fill(a *fuse.Attr, ino uint64) { fillAttr(a, d.node, ino, d.snap.nlink(d.node)) }

func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getxattr(d.node, attr, dest)
}

func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(ctx, d.node, dest)
}

func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return d.f.root.Statfs(ctx, out)
}

// attrFiller is a snapshot node that can describe itself.
type attrFiller interface {
	fill(a *fuse.Attr, ino uint64)
}

func kindMode(k tree.Kind) uint32 {
	switch k {
	case tree.KindDir:
		return syscall.S_IFDIR
	case tree.KindSymlink:
		return syscall.S_IFLNK
	case tree.KindCharDev:
		return syscall.S_IFCHR
	case tree.KindBlockDev:
		return syscall.S_IFBLK
	case tree.KindFIFO:
		return syscall.S_IFIFO
	case tree.KindSocket:
		return syscall.S_IFSOCK
	}
	return syscall.S_IFREG
}

// fillAttr describes n as stat(2) would have on the source.
func fillAttr(a *fuse.Attr, n *tree.Node, ino uint64, nlink uint32) {
	a.Ino = ino
	a.Mode = kindMode(n.Kind) | n.Mode&0o7777
	a.Nlink = nlink
	a.Owner = fuse.Owner{Uid: n.UID, Gid: n.GID}
	a.Blksize = 4096
	switch n.Kind {
	case tree.KindFile:
		a.Size = n.Size
		var data uint64
		for _, c := range n.Content {
			if !c.Hole {
				data += c.Size
			}
		}
		a.Blocks = (data + 4095) / 4096 * 8
	case tree.KindSymlink:
		a.Size = n.StatSize()
	case tree.KindDir:
		a.Size = 4096
		a.Blocks = 8
	case tree.KindCharDev, tree.KindBlockDev:
		a.Rdev = uint32(unix.Mkdev(n.DevMajor, n.DevMinor))
	}
	a.Atime, a.Atimensec = splitNanos(n.ATime)
	a.Mtime, a.Mtimensec = splitNanos(n.MTime)
	a.Ctime, a.Ctimensec = splitNanos(n.CTime)
}

// splitNanos splits nanoseconds since the epoch into seconds and the
// nanoseconds within that second. The protocol's seconds are unsigned, but
// the kernel reads them as signed: times before 1970 are two's complement.
func splitNanos(ns int64) (uint64, uint32) {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	return uint64(sec), uint32(nsec)
}

func getxattr(n *tree.Node, attr string, dest []byte) (uint32, syscall.Errno) {
	for _, x := range n.Xattrs {
		if x.Name != attr {
			continue
		}
		if len(dest) == 0 {
			return uint32(len(x.Value)), 0
		}
		if len(dest) < len(x.Value) {
			return uint32(len(x.Value)), syscall.ERANGE
		}
		return uint32(copy(dest, x.Value)), 0
	}
	return 0, syscall.ENODATA
}

// listxattr lists n's attribute names as a local file system would to
// the caller: trusted. names only to a caller with CAP_SYS_ADMIN, since
// only such a caller may read them (the kernel answers ENODATA to the
// others' getxattr, which is all FUSE leaves to the kernel).
func listxattr(ctx context.Context, n *tree.Node, dest []byte) (uint32, syscall.Errno) {
	shown := func(name string) bool { return true }
	for _, x := range n.Xattrs {
		if strings.HasPrefix(x.Name, "trusted.") && !callerMayTrusted(ctx) {
			shown = func(name string) bool { return !strings.HasPrefix(name, "trusted.") }
			break
		}
	}
	size := 0
	for _, x := range n.Xattrs {
		if shown(x.Name) {
			size += len(x.Name) + 1
		}
	}
	if len(dest) == 0 {
		return uint32(size), 0
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	b := dest[:0]
	for _, x := range n.Xattrs {
		if shown(x.Name) {
			b = append(append(b, x.Name...), 0)
		}
	}
	return uint32(size), 0
}

// capSysAdmin is CAP_SYS_ADMIN's bit in /proc/PID/status's CapEff.
const capSysAdmin = 21

// callerMayTrusted reports whether the process making the request may
// read trusted. attributes: it has CAP_SYS_ADMIN, or (when its status
// cannot be read) it is root.
func callerMayTrusted(ctx context.Context) bool {
	c, ok := fuse.FromContext(ctx)
	if !ok {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid))
	if err != nil || c.Pid == 0 {
		return c.Uid == 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return c.Uid == 0
			}
			return caps&(1<<capSysAdmin) != 0
		}
	}
	return c.Uid == 0
}
