package fs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// leafNode is anything in a snapshot but a folder: a file, symlink,
// device, fifo or socket.
type leafNode struct {
	gofs.Inode
	readOnly
	f    *fsys
	snap *snapState
	node *tree.Node

	once sync.Once
	rd   *reading
}

var (
	_ gofs.NodeGetattrer   = (*leafNode)(nil)
	_ gofs.NodeOpener      = (*leafNode)(nil)
	_ gofs.NodeReadlinker  = (*leafNode)(nil)
	_ gofs.NodeGetxattrer  = (*leafNode)(nil)
	_ gofs.NodeListxattrer = (*leafNode)(nil)
	_ gofs.NodeReader      = (*leafNode)(nil)
	_ gofs.NodeLseeker     = (*leafNode)(nil)
	_ gofs.NodeFlusher     = (*leafNode)(nil)
)

func (n *leafNode) fill(a *fuse.Attr, ino uint64) {
	fillAttr(a, n.node, ino, n.snap.nlink(n.node))
}

func (n *leafNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.fill(&out.Attr, n.StableAttr().Ino)
	out.SetTimeout(stableTimeout)
	return 0
}

func (n *leafNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if n.node.Kind != tree.KindSymlink {
		return nil, syscall.EINVAL
	}
	return []byte(n.node.LinkTarget), 0
}

func (n *leafNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return getxattr(n.node, attr, dest)
}

func (n *leafNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(ctx, n.node, dest)
}

// Open is only called on kernels that cannot do without OPEN (rawFS has
// refused writes already): reads are served by the node.
func (n *leafNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Flush answers ENOSYS: there is nothing to flush, and the kernel then
// stops sending a FLUSH at every close.
func (n *leafNode) Flush(ctx context.Context, fh gofs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// reading is a file's read state, made on its first read: where each
// chunk starts, and the runs of reads its readers make, to fetch the
// next chunks early. Several readers of one file share it.
type reading struct {
	offs []int64 // offs[i] is where chunk i starts; the last is the size

	mu   sync.Mutex
	runs [readRuns]run
	tick uint64 // counts reads, to find the run read least recently
}

// readRuns is how many readers of one file at once keep a read-ahead of
// their own. The mount sees reads, not who makes them: a read continues
// the run it follows, or replaces the run read least recently.
const readRuns = 4

// run is a series of reads, each near where the last ended.
type run struct {
	next  int64  // where its furthest read ended
	n     int64  // bytes read in a row up to next
	ahead int64  // chunks before this are fetched or on their way
	used  uint64 // the reading's tick at its last read
}

func (n *leafNode) reading() *reading {
	n.once.Do(func() {
		h := &reading{offs: make([]int64, len(n.node.Content)+1)}
		for i := 1; i < readRuns; i++ {
			h.runs[i].next = -1 << 62 // nowhere: only the first starts at 0
		}
		for i, c := range n.node.Content {
			h.offs[i+1] = h.offs[i] + int64(c.Size)
		}
		n.rd = h
		// A program that reads this file is likely to read the ones
		// after it in the folder next.
		if name, p := n.Parent(); p != nil {
			if d, ok := p.Operations().(*dirNode); ok {
				d.prefetchAfter(name)
			}
		}
	})
	return n.rd
}

func (h *reading) size() int64 { return h.offs[len(h.offs)-1] }

// chunkAt returns the chunk holding byte off (< size).
func (h *reading) chunkAt(off int64) int {
	return sort.Search(len(h.offs)-1, func(i int) bool { return h.offs[i+1] > off })
}

func (n *leafNode) Read(ctx context.Context, fh gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if n.node.Kind != tree.KindFile {
		return nil, syscall.EINVAL
	}
	h := n.reading()
	size := h.size()
	if off >= size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), size)
	content := n.node.Content
	f := n.f
	ctx, cancel := untilKilled(ctx, f.opt.ReadTimeout)
	defer cancel()
	h.readAhead(f, content, off, end)
	for i, pos := h.chunkAt(off), off; pos < end; i++ {
		c := content[i]
		lo, hi := pos-h.offs[i], min(end, h.offs[i+1])-h.offs[i]
		dst := dest[pos-off : pos-off+hi-lo]
		if c.Hole {
			clear(dst)
		} else {
			ch, err := f.chunks.get(ctx, c.ID, int(c.Size))
			if err == nil && uint64(len(ch.data)) != c.Size {
				// Slicing past its length would serve whatever the
				// buffer held before (restore refuses this too).
				err = fmt.Errorf("chunk %s is %d bytes, the tree says %d: %w", c.ID.Short(), len(ch.data), c.Size, repo.ErrDamaged)
				f.chunks.release(ch)
			}
			if err != nil {
				if !interrupted(ctx, err) {
					f.readFailed(n, i, c.ID, err)
				}
				return nil, readErrno(ctx, err)
			}
			copy(dst, ch.data[lo:hi])
			f.chunks.release(ch)
		}
		pos += hi - lo
	}
	return fuse.ReadResultData(dest[:end-off]), 0
}

// readAhead notes a read of [off, end) and starts fetching the chunks
// after the run of reads it continues (each reader of a file has its
// own), as far ahead as the run is long,
// up to opt.ReadAhead: as the kernel's read-ahead, it grows while the
// reader goes on. A program that takes a few pieces out of a large file
// (an archive's members, a database's pages) reads two pieces one after
// the other often; a fixed read-ahead made it fetch opt.ReadAhead for
// each piece, most of a large archive for a few members.
func (h *reading) readAhead(f *fsys, content []tree.Chunk, off, end int64) {
	const slack = 4 << 20 // the kernel reads ahead too, a little out of order
	h.mu.Lock()
	h.tick++
	var r *run
	for i := range h.runs {
		c := &h.runs[i]
		if off >= c.next-slack && off <= c.next+slack && (r == nil || abs(off-c.next) < abs(off-r.next)) {
			r = c
		}
	}
	if r == nil {
		// Somewhere else: a new run starts here.
		r = &h.runs[0]
		for i := range h.runs {
			if h.runs[i].used < r.used {
				r = &h.runs[i]
			}
		}
		*r = run{next: end, n: end - off, ahead: end, used: h.tick}
		h.mu.Unlock()
		return
	}
	r.used = h.tick
	if end > r.next {
		r.n += end - max(off, r.next)
		r.next = end
	}
	from := max(r.ahead, r.next)
	to := min(r.next+min(r.n, f.opt.ReadAhead), h.size())
	if from >= to {
		h.mu.Unlock()
		return
	}
	r.ahead = to
	h.mu.Unlock()
	for i := h.chunkAt(from); i < len(content) && h.offs[i] < to; i++ {
		if !content[i].Hole {
			f.chunks.prefetch(content[i].ID, int(content[i].Size))
		}
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Lseek finds data and holes (SEEK_DATA, SEEK_HOLE); the kernel handles
// the other kinds of seek itself.
func (n *leafNode) Lseek(ctx context.Context, fh gofs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	if n.node.Kind != tree.KindFile {
		return 0, syscall.EINVAL
	}
	h := n.reading()
	size := h.size()
	o := int64(off)
	if o >= size || o < 0 {
		return 0, syscall.ENXIO
	}
	content := n.node.Content
	switch whence {
	case unixSeekData:
		for i := h.chunkAt(o); i < len(content); i++ {
			if !content[i].Hole {
				return uint64(max(o, h.offs[i])), 0
			}
		}
		return 0, syscall.ENXIO
	case unixSeekHole:
		for i := h.chunkAt(o); i < len(content); i++ {
			if content[i].Hole {
				return uint64(max(o, h.offs[i])), 0
			}
		}
		return uint64(size), 0 // the end of a file counts as a hole
	}
	return 0, syscall.EINVAL
}

const (
	unixSeekData = 3
	unixSeekHole = 4
)

// readFailure is what a failed read is logged once for: a file and the
// pack its chunk is in, or the chunk when no index names a pack for it.
type readFailure struct {
	ino     uint64
	pack    id.ID
	chunk   int
	damaged bool // damage, not an outage: each is logged
}

// maxFailures bounds the failed reads remembered as logged (fsys.seen):
// a mount that lives for months, over a large damaged tree read whole
// (rsync of a snapshot with lost packs), would keep one for every file
// and pack. Past it they are forgotten: a file may be named again, none
// goes unnamed.
const maxFailures = 1 << 16

// firstFailure says key was not logged yet, and remembers it.
func (f *fsys) firstFailure(key readFailure) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[key] {
		return false
	}
	if len(f.seen) >= maxFailures {
		clear(f.seen)
	}
	f.seen[key] = true
	return true
}

// readFailed logs an unreadable chunk bid once per file and pack (a lost
// pack holds many chunks of a large file, each of which a reader such as
// rsync tries), naming the file, the snapshot, the first chunk and the
// pack: a failed load names it itself, and a read that ran out of time
// gets it added, with the storage that did not answer.
func (f *fsys) readFailed(n *leafNode, chunk int, bid id.ID, err error) {
	key := readFailure{ino: n.StableAttr().Ino, chunk: chunk, damaged: errors.Is(err, repo.ErrDamaged)}
	if loc, ok, lerr := f.r.LookupBlob(bid); lerr == nil && ok {
		key.pack, key.chunk = loc.Pack, -1
		if pack := repo.PackName(loc.Type, loc.Pack); errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), pack) {
			err = fmt.Errorf("read pack %s (holding data blob %s): %w", pack, bid.Short(), err)
		}
	}
	err = f.noAnswer(err)
	if f.firstFailure(key) {
		f.opt.Log("read %s (snapshot %s), chunk %d: %v", n.Path(nil), n.snap.sn.ID.Short(), chunk, err)
	}
}
