package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/restic/chunker"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/bufpool"
	gear "github.com/cairn-backup/cairn/repo/chunker"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// fileJob is one regular file on its way through the file workers.
type fileJob struct {
	path    string
	node    *tree.Node
	dir     *dirState
	slot    int
	linkOf  *fileJob      // an earlier link of the same inode, whose content we take
	done    chan struct{} // closed when node.Content is final (or failed)
	failed  bool
	counter *atomic.Int64 // new, changed or unchanged: links count like their first
	// prefetched is the size read ahead for this file (prefetchFile),
	// counted in ingester.prefetched until the file is done.
	prefetched int64
}

// chunkJob is one chunk on its way through the blob workers.
type chunkJob struct {
	data []byte
	res  *chunkResult
}

type chunkResult struct {
	id  id.ID
	err error
	wg  *sync.WaitGroup
}

func (g *ingester) blobWorker() {
	defer g.blobWG.Done()
	for j := range g.chunks {
		j.res.id, j.res.err = g.storeChunk(j.data)
		if j.res.err != nil {
			// The repository failed: the ingest cannot succeed, so
			// the file (or stream) being cut stops here rather than
			// read to its end first.
			g.fail(fatal(j.res.err))
		}
		j.res.wg.Done()
	}
}

// storeChunk hashes a chunk and stores it unless the repository has it;
// the chunk's buffer goes back to bufpool.
func (g *ingester) storeChunk(data []byte) (id.ID, error) {
	bid := g.r.Codec().ID(data)
	_, err := g.saver.Save(id.DataBlob, bid, data)
	bufpool.Put(data)
	return bid, err
}

type fileWorker struct {
	g     *ingester
	gear  *gear.Chunker    // with repo.ChunkerGear
	rabin *chunker.Chunker // with repo.ChunkerRabin
	buf   []byte           // the Rabin chunker's output
}

func (g *ingester) fileWorker() {
	defer g.fileWG.Done()
	w := &fileWorker{g: g}
	for fj := range g.files {
		if g.ctx.Err() != nil || g.failed() != nil {
			fj.failed = true
			g.prefetched.Add(-fj.prefetched)
			close(fj.done)
			continue // drain: the snapshot will not be written
		}
		w.process(fj)
	}
}

func (w *fileWorker) process(fj *fileJob) {
	g := w.g
	defer close(fj.done)
	if fj.prefetched > 0 {
		defer g.prefetched.Add(-fj.prefetched)
	}
	g.prog.current.Store(fj.path)
	n := fj.node
	if fj.linkOf != nil {
		<-fj.linkOf.done
		if fj.linkOf.failed {
			g.leaveOut(fj)
			return
		}
		// The inode's state as the first link's worker read it: its
		// content and attributes with the times that vouch for them
		// (a change between the two lstats must not pair this link's
		// newer ctime with the older attributes in the cache).
		first := fj.linkOf.node
		g.counts.bytes.Add(int64(first.Size) - int64(n.Size))
		n.Content, n.Size, n.Xattrs, n.Flags = first.Content, first.Size, first.Xattrs, first.Flags
		n.MTime, n.CTime = first.MTime, first.CTime
		fj.linkOf.counter.Add(1)
		g.item(fj.path, fj.linkOf.counter)
		// Recorded too: with folders walked in parallel, another link of
		// the group may come first next time and look itself up.
		g.cache.record(fj.path, n)
		g.progressFile(n)
		fj.dir.done(fj.slot, n)
		return
	}
	c := g.cache.lookup(fj.path)
	old := c.node
	unchanged := g.sameFile(old, n)
	if unchanged && c.xattrs && sameInode(old, n) {
		// Setting an xattr or an inode flag changes the ctime.
		n.Xattrs, n.Flags = old.Xattrs, old.Flags
		if !c.flags {
			var err error
			if n.Flags, err = fsmeta.Flags(g.fsPath(fj.path), tree.KindFile); err != nil {
				g.warn(fj.path, err)
				g.leaveOut(fj)
				return
			}
		}
	} else {
		xs, err := fsmeta.Xattrs(g.fsPath(fj.path))
		if err == nil {
			n.Flags, err = fsmeta.Flags(g.fsPath(fj.path), tree.KindFile)
		}
		if err != nil {
			g.warn(fj.path, err)
			g.leaveOut(fj)
			return
		}
		n.Xattrs = xs
	}
	if unchanged && (c.blobsKnown || g.blobsKnown(old.Content)) {
		fj.counter = &g.counts.filesUnchanged
		g.keepUnchanged(fj.path, n, c, fj.dir, fj.slot)
		return
	}
	content, size, err := w.readFile(fj)
	if err != nil {
		if errors.Is(err, errFatal) {
			g.fail(err)
		} else {
			g.warn(fj.path, err)
		}
		g.leaveOut(fj)
		return
	}
	// The totals count what was read, as the snapshot records: a file of
	// /proc stats as 0 bytes and holds some, one of /sys stats as 4096
	// and holds a few, one may shrink while it is read.
	g.counts.bytes.Add(size - int64(n.Size))
	n.Content, n.Size = content, uint64(size)
	fj.counter = &g.counts.filesChanged
	if old == nil {
		fj.counter = &g.counts.filesNew
	}
	fj.counter.Add(1)
	g.item(fj.path, fj.counter)
	g.cache.record(fj.path, n)
	g.prog.filesDone.Add(1)
	fj.dir.done(fj.slot, n)
}

// leaveOut completes a file that could not be read: the snapshot leaves
// it out, and its totals do not count it (as restic's do not).
func (g *ingester) leaveOut(fj *fileJob) {
	fj.failed = true
	fj.dir.incomplete.Store(true)
	g.counts.files.Add(-1)
	g.counts.bytes.Add(-int64(fj.node.Size))
	g.counts.entries.Add(-1)
	fj.dir.done(fj.slot, nil)
}

// sameFile reports whether old, what the file-change cache (or the
// chosen parent) recorded, vouches for the content of the file n: same
// kind, size, mtime, and ctime and inode unless IgnoreCtime or
// IgnoreInode leave them out.
func (g *ingester) sameFile(old, n *tree.Node) bool {
	return old != nil && old.Kind == tree.KindFile && old.Size == n.Size && old.MTime == n.MTime &&
		(g.opt.IgnoreCtime || g.opt.IgnoreInode || old.CTime == n.CTime) && (g.opt.IgnoreInode || old.Inode == n.Inode)
}

// sameInode reports whether old also vouches for the extended attributes
// of n: a change of them moves the ctime, whatever the ingest ignores.
func sameInode(old, n *tree.Node) bool {
	return old.CTime == n.CTime && old.Inode == n.Inode
}

// keepUnchanged completes the entry at slot of d with the unchanged file
// n, whose content (and attributes, when the entry holds them) are those
// of the entry c.
func (g *ingester) keepUnchanged(path string, n *tree.Node, c cached, d *dirState, slot int) {
	old := c.node
	n.Content = old.Content
	g.counts.filesUnchanged.Add(1)
	g.item(path, &g.counts.filesUnchanged)
	if c.stored && c.xattrs && !c.rewrite && n.Dev == old.Dev && sameInode(old, n) {
		// Every field the entry holds is n's: sameFile compared the
		// rest, and the content and attributes are the entry's own.
		g.cache.keep(path)
	} else {
		g.cache.record(path, n)
	}
	g.progressFile(n)
	d.done(slot, n)
}

// unchangedAtWalk completes a file with one link that the file-change
// cache vouches for, attributes and all, without handing it to a file
// worker: an unchanged ingest is mostly such files, and a hand-over per
// file woke a worker for a few microseconds of work each time.
func (g *ingester) unchangedAtWalk(path string, n *tree.Node, d *dirState, slot int) bool {
	if n.Links > 1 {
		return false // the first link's worker speaks for the others
	}
	c := g.cache.lookup(path)
	if !c.xattrs || !c.flags || !g.sameFile(c.node, n) || !sameInode(c.node, n) || !(c.blobsKnown || g.blobsKnown(c.node.Content)) {
		return false
	}
	n.Xattrs, n.Flags = c.node.Xattrs, c.node.Flags
	g.keepUnchanged(path, n, c, d, slot)
	return true
}

// progressFile counts n, a file not read (unchanged, or a hardlink of
// one read), as done, with its holes.
func (g *ingester) progressFile(n *tree.Node) {
	g.prog.filesDone.Add(1)
	g.prog.bytesDone.Add(int64(n.Size))
	var holes int64
	for _, c := range n.Content {
		if c.Hole {
			holes += int64(c.Size)
		}
	}
	// Most files have none: no third atomic add, on the counters every
	// file worker shares, for each of a million unchanged files.
	if holes > 0 {
		g.prog.holesDone.Add(holes)
	}
}

func (g *ingester) blobsKnown(cs []tree.Chunk) bool {
	for _, c := range cs {
		if c.Hole {
			continue
		}
		if ok, err := g.saver.Known(c.ID); err != nil || !ok {
			return false
		}
	}
	return true
}

// errFatal marks errors that stop the whole ingest (the repository failed),
// as opposed to one unreadable file.
var errFatal = errors.New("fatal")

type fatalError struct{ err error }

func (e fatalError) Error() string   { return e.err.Error() }
func (e fatalError) Unwrap() []error { return []error{e.err, errFatal} }
func fatal(err error) error          { return fatalError{err} }

// afterExtents, when set (by tests), runs once readFile has found the
// data regions of the file at path and before it reads them.
var afterExtents func(path string)

// readFile reads a file's data regions (holes found with SEEK_DATA and
// SEEK_HOLE stay holes) and returns its chunk list and length.
func (w *fileWorker) readFile(fj *fileJob) ([]tree.Chunk, int64, error) {
	f, err := fsmeta.OpenRead(w.g.fsPath(fj.path))
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if now, err := fsmeta.FstatNode(f, fj.path); err != nil {
		return nil, 0, err
	} else if n := fj.node; now.Inode != n.Inode || now.Dev != n.Dev || now.Size != n.Size || now.MTime != n.MTime || now.CTime != n.CTime {
		// The file was replaced (renamed over) or changed since the walk
		// listed it: the snapshot records the file that is read, with
		// its own owner, mode, times and size, as restic records the
		// fstat of the file it opened, not the earlier lstat with
		// another file's content cut to the old size.
		w.g.counts.bytes.Add(int64(now.Size) - int64(n.Size))
		now.Xattrs, now.Flags = n.Xattrs, n.Flags
		*n = *now
	}
	size := int64(fj.node.Size)
	if size == 0 {
		// A file whose stat says 0 bytes may still have content: those
		// of /proc and /sys, and of some FUSE filesystems, are read to
		// their end, as restic does, instead of being saved empty.
		// Without waiting: /proc/kmsg would hold the ingest for good
		// (a blocked read cannot be interrupted); such a file fails
		// with EAGAIN and is reported as unreadable.
		if fsmeta.ConsumedByReading(f) {
			return nil, 0, errConsumedByReading
		}
		if err := fsmeta.SetNonblock(f); err != nil {
			return nil, 0, err
		}
		// The common empty file costs one read, not a chunker.
		var first [1]byte
		rest := &endless{r: f, left: zeroSizeMax}
		n, err := rest.Read(first[:])
		if n == 0 {
			if err == io.EOF {
				return nil, 0, nil
			}
			if err == nil {
				err = io.ErrNoProgress
			}
			return nil, 0, err
		}
		return w.g.chunkStream(w, fj.path, io.MultiReader(bytes.NewReader(first[:n]), rest), -1)
	}
	extents, err := fsmeta.DataExtents(f, size)
	if err != nil {
		return nil, 0, err
	}
	// The small files were read ahead into the page cache (prefetchMax);
	// a larger one that is not cached is read once and dropped from it.
	var once *fsmeta.ReadOnce
	if size > prefetchMax {
		if once = fsmeta.NewReadOnce(f, size); once != nil {
			defer once.Close() // before f is closed
		}
	}
	if afterExtents != nil {
		afterExtents(fj.path)
	}
	var content []tree.Chunk
	var pos int64
	short := false // the file ended before its stat size
	for _, e := range extents {
		start := pos
		if e.Off > pos {
			content = append(content, tree.Chunk{Hole: true, Size: uint64(e.Off - pos)})
			pos = e.Off
		}
		var r io.Reader = io.NewSectionReader(f, e.Off, e.Len)
		if once != nil {
			r = once.Region(e.Off, e.Len)
		}
		cs, n, err := w.g.chunkStream(w, fj.path, r, e.Len)
		content = append(content, cs...)
		pos += n
		if err != nil {
			return nil, 0, err
		}
		if n < e.Len {
			short = true
			// The file shrank while we read it: keep what we read.
			// When nothing was left of this region, the file ended
			// before it: the hole leading to it stops at the file's
			// end now, not at a size the file never had.
			if n == 0 && e.Off > start {
				end := start
				if st, err := f.Stat(); err == nil {
					end = max(start, min(e.Off, st.Size()))
				}
				content = content[:len(content)-1]
				if end > start {
					content = append(content, tree.Chunk{Hole: true, Size: uint64(end - start)})
				}
				pos = end
			}
			break
		}
	}
	// A trailing hole only when no read ended early: a file of /sys
	// stats as 4096 bytes and ends after a few, which are all it has,
	// not the start of 4096 bytes padded with zeros.
	if !short && (len(extents) == 0 || pos < size) {
		if st, err := f.Stat(); err == nil && st.Size() >= size && pos < size {
			content = append(content, tree.Chunk{Hole: true, Size: uint64(size - pos)})
			pos = size
		}
	}
	// The holes were not read but are done: the progress counts the
	// file's size, as the scan's total and the summary's bytes do, or a
	// sparse disk image kept the fraction done far from 1 until the end.
	for _, c := range content {
		if c.Hole {
			w.g.prog.bytesDone.Add(int64(c.Size))
			w.g.prog.holesDone.Add(int64(c.Size))
		}
	}
	return content, pos, nil
}

// readStream chunks a stream of unknown length (stdin).
func (g *ingester) readStream(fj *fileJob, r io.Reader) ([]tree.Chunk, int64, error) {
	w := &fileWorker{g: g}
	cs, n, err := g.chunkStream(w, fj.path, r, -1)
	g.prog.filesDone.Add(1)
	return cs, n, err
}

// chunks returns the repository's chunker over r, which yields size bytes
// (< 0: unknown): next yields each chunk in a buffer from bufpool that the
// caller owns, release ends the use.
func (w *fileWorker) chunks(r io.Reader, size int64, cp repo.ChunkerParams) (next func() ([]byte, error), release func()) {
	if t := w.g.r.GearTable(); t != nil { // exactly when the config says gear
		if w.gear == nil {
			w.gear = gear.New(r, size, t, gear.Params{Min: int(cp.MinSize), Max: int(cp.MaxSize), Bits: cp.AverageBits})
		} else {
			w.gear.Reset(r, size)
		}
		return w.gear.Next, func() { w.gear.Reset(nil, -1) }
	}
	if w.rabin == nil {
		w.rabin = chunker.NewWithBoundaries(r, w.g.r.Polynomial(), cp.MinSize, cp.MaxSize)
	} else {
		w.rabin.ResetWithBoundaries(r, w.g.r.Polynomial(), cp.MinSize, cp.MaxSize)
	}
	w.rabin.SetAverageBits(cp.AverageBits)
	// The Rabin chunker's output buffer is borrowed per file, so only
	// the workers reading large files at this moment hold one, and sized
	// for a typical chunk: Next grows it for the rare large one. Each
	// chunk is copied out of it.
	w.buf = bufpool.Get(2 << 20)
	next = func() ([]byte, error) {
		c, err := w.rabin.Next(w.buf)
		if err != nil {
			return nil, err
		}
		if cap(c.Data) > cap(w.buf) {
			w.buf = c.Data[:0] // Next grew it: keep the larger one
		}
		return append(bufpool.Get(len(c.Data)), c.Data...), nil
	}
	return next, func() { bufpool.Put(w.buf); w.buf = nil }
}

// chunkStream cuts r into content-defined chunks, hands them to the blob
// workers and waits for their IDs; a region smaller than the smallest
// chunk is stored by the calling worker itself. sizeHint < 0 means unknown.
func (g *ingester) chunkStream(w *fileWorker, path string, r io.Reader, sizeHint int64) ([]tree.Chunk, int64, error) {
	cp := g.r.Config().Chunker
	var wg sync.WaitGroup
	var results []*chunkResult
	var sizes []uint64
	var total int64
	submit := func(data []byte) {
		res := &chunkResult{wg: &wg}
		wg.Add(1)
		results = append(results, res)
		sizes = append(sizes, uint64(len(data)))
		g.chunks <- &chunkJob{data: data, res: res}
		total += int64(len(data))
		g.prog.bytesDone.Add(int64(len(data)))
	}
	var readErr, stopped error
	if sizeHint >= 0 && sizeHint < int64(cp.MinSize) {
		// A small region is one chunk: no chunker needed.
		buf := bufpool.Get(int(sizeHint))[:sizeHint]
		n, err := io.ReadFull(r, buf)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			readErr = err
			bufpool.Put(buf)
		} else if n > 0 {
			// One small chunk: hashed, compressed and stored right
			// here. Handing it to a blob worker and waiting for it
			// cost two context switches per file; a cold first ingest
			// of the benchmark corpus (21,000 files under 512 KiB)
			// took 8.4-8.9 s this way against 9.1-9.6 s.
			bid, err := g.storeChunk(buf[:n])
			total += int64(n)
			g.prog.bytesDone.Add(int64(n))
			results = append(results, &chunkResult{id: bid, err: err})
			sizes = append(sizes, uint64(n))
		} else {
			bufpool.Put(buf)
		}
	} else {
		next, release := w.chunks(r, sizeHint, cp)
		defer release()
		for {
			data, err := next()
			if err == io.EOF {
				// Only a bare io.EOF is the end; a wrapped one is an
				// error of the reader and fails the file, rather
				// than cut it short without a word.
				break
			}
			if err != nil {
				readErr = err
				break
			}
			submit(data)
			if g.ctx.Err() != nil {
				readErr = fatal(ErrInterrupted)
				break
			}
			if stopped = g.failed(); stopped != nil {
				// A chunk could not be stored (here or in another
				// file): stop reading, a stream of hours included.
				break
			}
		}
	}
	wg.Wait()
	if readErr != nil {
		var pe *fs.PathError
		if errors.As(readErr, &pe) && pe.Path == path {
			return nil, total, readErr // it names the path already
		}
		return nil, total, fmt.Errorf("read %s: %w", path, readErr)
	}
	content := make([]tree.Chunk, len(results))
	for i, res := range results {
		if res.err != nil {
			return nil, total, fatal(res.err)
		}
		content[i] = tree.Chunk{ID: res.id, Size: sizes[i]}
	}
	if stopped != nil {
		return nil, total, fatal(stopped)
	}
	return content, total, nil
}

// errConsumedByReading: the file's data would be taken from its other
// readers by reading it (fsmeta.ConsumedByReading).
var errConsumedByReading = errors.New("reading it would take its data from its other readers (the kernel log the system's log daemon reads, a tracing pipe): left out")

// zeroSizeMax bounds what is read of a file whose stat says 0 bytes: a
// pseudo-file of /proc may not end where a reader expects (pagemap maps the
// whole address space, 8 bytes a page: hundreds of GiB), and the largest
// real ones (kallsyms) hold a few MiB.
const zeroSizeMax = 64 << 20

// endless reads r until zeroSizeMax bytes in all, then fails: the file is
// reported as unreadable rather than read for hours.
type endless struct {
	r    io.Reader
	left int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		// A file of exactly zeroSizeMax bytes ends here: only a byte
		// past the bound makes it one that does not end.
		var probe [1]byte
		if n, err := e.r.Read(probe[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("its size on stat is 0, and it holds more than %d MiB: a pseudo-file that does not end; left out", zeroSizeMax>>20)
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	return n, waiting(err)
}

// waiting says what EAGAIN means when a file whose stat says 0 bytes is
// read without waiting: not a passing failure that trying again mends
// ("resource temporarily unavailable"), but a pseudo-file that would hold
// the ingest until new data came (/proc/kmsg), left out for that.
func waiting(err error) error {
	if errors.Is(err, syscall.EAGAIN) {
		return errors.New("its size on stat is 0, and it waits for data to give (as /proc/kmsg does): a pseudo-file that would hold the ingest; left out")
	}
	return err
}
