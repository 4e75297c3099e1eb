package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rawFS sits between the kernel and go-fuse's node bridge to spare the
// round trips that a read-only tree does not need. Each FUSE request costs
// tens of microseconds on a virtual machine, and copying tools open every
// folder on a file's path again for every file (rsync does, to resolve
// paths safely): answering ENOSYS to OPEN and OPENDIR makes the kernel stop
// sending them and keep the page cache of files and listings of folders
// (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, the kernel's default without them).
// Folders are then listed here, by inode number, without a handle.
type rawFS struct {
	fuse.RawFileSystem
	f      *fsys
	server *fuse.Server
}

func (w *rawFS) Init(s *fuse.Server) {
	w.server = s
	w.f.server.Store(s)
	w.RawFileSystem.Init(s)
}

// kernelCan reports whether the kernel announced capability c (kernels
// before 5.1 cannot do without OPENDIR, before 4.20 without OPEN).
func (w *rawFS) kernelCan(c uint64) bool {
	return w.server != nil && w.server.KernelSettings().Flags64()&c != 0
}

// lister is a folder that can list itself.
type lister interface {
	// list hands add the folder's entries after the one whose Off is
	// from (0: from the start; "." has Off 1, ".." 2), each with its Off,
	// until add returns false. A request of the kernel costs the entries it
	// gets, not the whole folder: a folder of a million entries takes
	// tens of thousands of requests to list.
	list(ctx context.Context, from uint64, add func(fuse.DirEntry) bool) syscall.Errno
	// plusLookups says whether READDIRPLUS should describe its entries
	// (cheap), or leave that to the kernel's own lookups.
	plusLookups() bool
}

func (w *rawFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if in.Flags&syscall.O_ACCMODE != syscall.O_RDONLY || in.Flags&syscall.O_TRUNC != 0 {
		return fuse.Status(syscall.EROFS)
	}
	if !w.kernelCan(fuse.CAP_NO_OPEN_SUPPORT) {
		return w.RawFileSystem.Open(cancel, in, out)
	}
	return fuse.ENOSYS
}

func (w *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	if in.Fh != 0 {
		w.RawFileSystem.Release(cancel, in)
	}
}

func (w *rawFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if !w.kernelCan(fuse.CAP_NO_OPENDIR_SUPPORT) {
		return w.RawFileSystem.OpenDir(cancel, in, out)
	}
	return fuse.ENOSYS
}

func (w *rawFS) ReleaseDir(in *fuse.ReleaseIn) {
	if in.Fh != 0 {
		w.RawFileSystem.ReleaseDir(in)
	}
}

// Fsync and FsyncDir answer ENOSYS: nothing here is ever written, so
// there is nothing to sync. The kernel takes ENOSYS as success and stops
// asking, so fsync of a file or folder opened for reading succeeds, as on
// any read-only filesystem (go-fuse's own answer, ENOTSUP, would reach the
// program: `sync FILE` failed with "Operation not supported").
func (w *rawFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return fuse.ENOSYS
}

func (w *rawFS) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return fuse.ENOSYS
}

// list lists the folder of the request from its offset on: in a
// snapshot the offset of an entry is its position plus one (its listing
// never changes, so a seek back finds the same entries); in a virtual
// folder it names the entry, so that the listing goes on after it though
// snapshots came or went meanwhile.
func (w *rawFS) list(cancel <-chan struct{}, in *fuse.ReadIn, add func(d lister, e fuse.DirEntry) bool) fuse.Status {
	d := w.f.dir(in.NodeId)
	if d == nil {
		return fuse.Status(syscall.ENOTDIR)
	}
	ctx := &fuse.Context{Caller: in.Caller, Cancel: cancel}
	errno := d.list(ctx, in.Offset, func(e fuse.DirEntry) bool {
		w.f.listed.Add(1)
		return add(d, e)
	})
	return fuse.Status(errno)
}

func (w *rawFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if in.Fh != 0 { // an old kernel that opened the folder
		return w.RawFileSystem.ReadDir(cancel, in, out)
	}
	return w.list(cancel, in, func(_ lister, e fuse.DirEntry) bool { return out.AddDirEntry(e) })
}

// Lookup is the bridge's, then registers for listings the folder node
// go-fuse kept (see dirInode).
func (w *rawFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	st := w.RawFileSystem.Lookup(cancel, header, name, out)
	if st == fuse.OK {
		w.f.keptDir(header.NodeId, name, out.NodeId)
	}
	return st
}

// ReadDirPlus lists like ReadDir and looks every entry up through the
// node bridge, as its own READDIRPLUS would: one request gives the kernel
// the attributes of a whole folder, instead of a LOOKUP for each entry.
func (w *rawFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if in.Fh != 0 {
		return w.RawFileSystem.ReadDirPlus(cancel, in, out)
	}
	return w.list(cancel, in, func(d lister, e fuse.DirEntry) bool {
		entry := out.AddDirLookupEntry(e)
		if entry == nil {
			return false
		}
		if e.Name == "." || e.Name == ".." || !d.plusLookups() {
			return true // no entry: the kernel looks it up itself when asked
		}
		if st := w.Lookup(cancel, &in.InHeader, e.Name, entry); st != fuse.OK {
			*entry = fuse.EntryOut{} // no entry: the kernel looks it up itself
		}
		return true
	})
}

// listAll is a folder's whole listing, for go-fuse's own READDIR of an
// old kernel that opened the folder.
func listAll(ctx context.Context, d lister) (gofs.DirStream, syscall.Errno) {
	var all []fuse.DirEntry
	errno := d.list(ctx, 0, func(e fuse.DirEntry) bool {
		all = append(all, e)
		return true
	})
	return gofs.NewListDirStream(all), errno
}

// rememberDir records the folder with inode number ino (which, with
// ExternalNodeID, is also its FUSE node ID) for ReadDir. The newest node
// object wins: any node of an inode lists the same entries (their inode
// numbers come from kidBase, by folder inode), and a lookup that races the
// kernel's forget of the previous one must not be left unregistered.
func (f *fsys) rememberDir(ino uint64, d lister) {
	f.dirs.Store(ino, d)
}

// dirInode makes the inode of the folder ch, with inode number ino, below
// parent, and registers ch for listings. Two lookups of one folder at once
// (a READDIRPLUS's and the kernel's) may both get here with a node object
// of their own: go-fuse keeps the first one registered (in its bridge,
// after Lookup returns; NewInode returns ch itself) and answers both with
// it. rawFS.Lookup then registers the node go-fuse kept (keptDir), so
// that the losing object does not stay registered, with what it loaded,
// for as long as the mount lasts: the kernel's forget of the kept one
// would find another registered (see forgetDir).
func (f *fsys) dirInode(ctx context.Context, parent *gofs.Inode, ch gofs.InodeEmbedder, ino uint64) *gofs.Inode {
	in := parent.NewInode(ctx, ch, gofs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino})
	f.rememberDir(ino, in.Operations().(lister))
	return in
}

// keptDir registers for listings the node go-fuse answered a lookup of
// name in the folder parent with, when it is a folder: the node the
// lookup made may have lost to another's (see dirInode). The lookup's
// reply holds the kept node, so the kernel cannot have forgotten it.
func (f *fsys) keptDir(parent uint64, name string, ino uint64) {
	p, ok := f.dir(parent).(gofs.InodeEmbedder)
	if !ok {
		return
	}
	ch := p.EmbeddedInode().GetChild(name)
	if ch == nil || ch.StableAttr().Ino != ino {
		return
	}
	if d, ok := ch.Operations().(lister); ok {
		f.rememberDir(ino, d)
	}
}

// forgetDir drops a folder once the kernel has forgotten its node, with
// the inode numbers of its entries: the kernel holds none of them any
// more (entries pin their folder). When another node object of the same
// inode has registered since, that one stays.
func (f *fsys) forgetDir(ino uint64, d lister) {
	if f.dirs.CompareAndDelete(ino, d) {
		f.bases.Delete(ino)
	}
}

func (f *fsys) dir(ino uint64) lister {
	if v, ok := f.dirs.Load(ino); ok {
		return v.(lister)
	}
	return nil
}
