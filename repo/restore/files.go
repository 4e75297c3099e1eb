package restore

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// restoreFile creates dst at its final size and queues its chunks.
func (rs *restorer) restoreFile(n *tree.Node, dst string) {
	if rs.hardlink(n, dst) {
		return
	}
	keep, err := rs.clearWay(dst, n)
	if err != nil {
		rs.warn(dst, err)
		return
	}
	if keep {
		return
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		rs.warn(dst, err)
		return
	}
	if err := f.Truncate(int64(n.Size)); err != nil {
		f.Close()
		rs.warn(dst, err)
		return
	}
	rs.stats.files.Add(1)
	rs.stats.totalBytes.Add(int64(n.Size))
	of := &openFile{path: dst, f: f, node: n}
	var data int64
	for _, c := range n.Content {
		if !c.Hole {
			data++
		}
	}
	// One extra count for the queueing itself, released below, so the
	// file cannot be finished while chunks are still being queued.
	of.remaining.Store(data + 1)
	var off int64
	for _, c := range n.Content {
		if !c.Hole {
			select {
			case rs.jobs <- chunkJob{file: of, off: off, id: c.ID, size: c.Size}:
			case <-rs.ctx.Done():
				rs.stopped(of, off)
				rs.chunkDone(of)
				return
			}
		}
		off += int64(c.Size)
	}
	rs.chunkDone(of)
}

func (rs *restorer) chunkDone(of *openFile) {
	if of.remaining.Add(-1) != 0 {
		return
	}
	err := of.f.Close()
	if of.failed.Load() {
		return
	}
	if err != nil {
		rs.warn(of.path, err)
		return
	}
	rs.stats.filesDone.Add(1)
	if err := fsmeta.Apply(of.path, of.node, fsmeta.ApplyOptions{SkipOwner: rs.opt.SkipOwner}); err != nil {
		rs.warn(of.path, err)
	}
}

// stopped marks of failed when the restore was cancelled before its chunk
// at off was written, and reports it once: it is left incomplete (at its
// final size, with zeros where chunks are missing) and must not get the
// snapshot's metadata, which would make it look restored.
func (rs *restorer) stopped(of *openFile, off int64) {
	if rs.ctx.Err() == nil {
		return
	}
	if of.failed.CompareAndSwap(false, true) {
		rs.warn(of.path, fmt.Errorf("left incomplete from offset %d: %w", off, rs.ctx.Err()))
	}
}

func (rs *restorer) worker() {
	defer rs.wg.Done()
	for j := range rs.jobs {
		if j.file.failed.Load() || rs.ctx.Err() != nil {
			rs.stopped(j.file, j.off)
			rs.chunkDone(j.file)
			continue
		}
		buf := bufpool.Get(int(j.size))
		plain, err := rs.r.LoadBlob(rs.ctx, id.DataBlob, j.id, buf)
		rs.write(j, plain, err)
		bufpool.Put(buf)
	}
}

// write puts one chunk's plaintext (or its error) into its file.
func (rs *restorer) write(j chunkJob, plain []byte, err error) {
	if err == nil && uint64(len(plain)) != j.size {
		err = fmt.Errorf("chunk %s is %d bytes, the tree says %d", j.id.Short(), len(plain), j.size)
	}
	if err == nil {
		_, err = j.file.f.WriteAt(plain, j.off)
		if err == nil {
			rs.stats.bytes.Add(int64(len(plain)))
		}
	}
	if err != nil {
		if j.file.failed.CompareAndSwap(false, true) {
			rs.warn(j.file.path, fmt.Errorf("at offset %d: %w", j.off, err))
		}
	}
	rs.chunkDone(j.file)
}

// Reading packs, not blobs: for remote storage, where each request is a
// round trip (and often billed), chunks queued together are grouped by
// pack and read with one request per run of nearby blobs.
const (
	batchJobs = 256      // chunks looked at together
	runGap    = 1 << 20  // bytes between two blobs that are read through
	runSpan   = 16 << 20 // at most this much in one read
)

// located is a chunk job with the blob's place in the repository.
type located struct {
	chunkJob
	loc index.Blob
	ok  bool // found in the index
}

// coalescer turns jobs into runs of blobs of one pack, for runWorker. It
// gathers jobs while the workers are busy and hands over what it has when
// one of them runs out of work (or the batch is full), so that a walk
// that queues chunks slowly (many small files) still gives long runs.
func (rs *restorer) coalescer() {
	defer close(rs.runs)
	var batch []located
	for {
		var j chunkJob
		var open bool
		if len(batch) == 0 {
			j, open = <-rs.jobs
		} else {
			select {
			case j, open = <-rs.jobs:
			case <-rs.hungry: // a worker waits: read what we have
				rs.sendRuns(batch)
				batch = nil
				continue
			}
		}
		if !open {
			rs.sendRuns(batch)
			return
		}
		loc, ok, err := rs.r.LookupBlob(j.id)
		batch = append(batch, located{chunkJob: j, loc: loc, ok: ok && err == nil})
		if len(batch) >= batchJobs {
			rs.sendRuns(batch)
			batch = nil
		}
	}
}

func (rs *restorer) sendRuns(batch []located) {
	sort.Slice(batch, func(a, b int) bool {
		x, y := batch[a], batch[b]
		if x.loc.Pack != y.loc.Pack {
			return bytes.Compare(x.loc.Pack[:], y.loc.Pack[:]) < 0
		}
		return x.loc.Offset < y.loc.Offset
	})
	for i := 0; i < len(batch); {
		j := i + 1
		if batch[i].ok {
			start := int64(batch[i].loc.Offset)
			end := start + int64(batch[i].loc.Length)
			for j < len(batch) && batch[j].ok && batch[j].loc.Pack == batch[i].loc.Pack {
				o := int64(batch[j].loc.Offset)
				e := max(end, o+int64(batch[j].loc.Length))
				if o-end > runGap || e-start > runSpan {
					break
				}
				end = e
				j++
			}
		}
		rs.runs <- batch[i:j:j]
		i = j
	}
}

// nextRun returns the next run to read, telling the coalescer first when
// there is none waiting.
func (rs *restorer) nextRun() ([]located, bool) {
	select {
	case run, ok := <-rs.runs:
		return run, ok
	default:
	}
	select {
	case rs.hungry <- struct{}{}:
	default: // the coalescer has been told already
	}
	run, ok := <-rs.runs
	return run, ok
}

func (rs *restorer) runWorker() {
	defer rs.wg.Done()
	for {
		run, ok := rs.nextRun()
		if !ok {
			return
		}
		if rs.ctx.Err() != nil || !run[0].ok {
			// Cancelled, or a blob in no index: LoadBlob says why.
			for _, l := range run {
				if l.file.failed.Load() || rs.ctx.Err() != nil {
					rs.stopped(l.file, l.off)
					rs.chunkDone(l.file)
					continue
				}
				plain, err := rs.r.LoadBlob(rs.ctx, id.DataBlob, l.id, nil)
				rs.write(l.chunkJob, plain, err)
			}
			continue
		}
		blobs := make([]index.Blob, len(run))
		for i, l := range run {
			blobs[i] = l.loc
		}
		i := 0
		fn := func(_ index.Blob, plain []byte, err error) {
			if l := run[i]; l.file.failed.Load() {
				rs.chunkDone(l.file)
			} else {
				rs.write(l.chunkJob, plain, err)
			}
			i++
		}
		if err := rs.r.LoadBlobs(rs.ctx, blobs, fn); err != nil {
			for _, l := range run {
				rs.write(l.chunkJob, nil, err)
			}
		}
	}
}

func (rs *restorer) startProgress(start time.Time) func() {
	if rs.opt.Progress == nil {
		return func() {}
	}
	iv := rs.opt.Interval
	if iv <= 0 {
		iv = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	report := func() {
		rs.opt.Progress(Progress{Elapsed: time.Since(start), FilesDone: rs.stats.filesDone.Load(), BytesDone: rs.stats.bytes.Load(),
			TotalBytes: rs.stats.totalBytes.Load(), WalkDone: rs.stats.walkDone.Load()})
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-done:
				report()
				return
			case <-t.C:
				report()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
