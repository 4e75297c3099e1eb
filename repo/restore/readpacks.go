package restore

import (
	"errors"
	"sort"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/id"
)

// Reading packs, not blobs: for remote storage, where each request is a
// round trip (often billed) and costs the server far more than its bytes,
// chunks are held back by pack until the pack's needed blobs can be read
// with one request per span (a whole pack at the default pack size), each
// blob decrypted out of that one buffer and written where it belongs.
const (
	runGap = 1 << 20 // bytes between two needed blobs that are read through
	// runSpan is the most read at once: a default pack (16 MiB) and its
	// last blob.
	runSpan = 24 << 20
	// A pack's chunks are read once the walk has queued packNeed bytes
	// of its blobs (a default pack's worth), or, for a worker waiting
	// with nothing to do, hungryNeed bytes. The blobs of small files
	// are spread over few packs that the walk comes back to until its
	// end: read as the walk queues them, each such pack costs hundreds
	// of requests.
	packNeed   = 16 << 20
	hungryNeed = 8 << 20
	// maxPending chunks are held back at most; then the pack with the
	// most bytes queued is read. Held-back files are not kept open.
	maxPending = 16384
	// readBudget bounds the pack bytes read and not yet written, over
	// all workers.
	readBudget = 64 << 20
)

// located is a chunk job with the blob's place in the repository.
type located struct {
	chunkJob
	loc index.Blob
	ok  bool // found in the index
}

// pendingPack is the chunks of one pack held back by the coalescer.
type pendingPack struct {
	jobs []located
	need int64 // bytes of their blobs
}

// coalescer turns jobs into runs of blobs of one pack, for runWorker. It
// collects jobs by pack and hands a pack's over once they are (about) a
// whole pack, when a waiting worker can be given a good part of one, when
// too many jobs are held back, and at the end of the walk.
func (rs *restorer) coalescer() {
	defer close(rs.runs)
	pend := map[id.ID]*pendingPack{}
	n := 0
	flush := func(p id.ID) {
		pp := pend[p]
		delete(pend, p)
		n -= len(pp.jobs)
		rs.sendRuns(pp.jobs)
	}
	largest := func() (id.ID, int64) {
		var lp id.ID
		var ln int64 = -1
		for p, pp := range pend {
			if pp.need > ln {
				lp, ln = p, pp.need
			}
		}
		return lp, ln
	}
	// feed hands a waiting worker a pack worth a request, if there is one.
	feed := func() {
		if n == 0 || rs.idle.Load() == 0 || len(rs.runs) > 0 {
			return
		}
		if p, need := largest(); need >= hungryNeed {
			flush(p)
		}
	}
	for {
		var j chunkJob
		var open bool
		if n == 0 {
			j, open = <-rs.jobs
		} else {
			select {
			case j, open = <-rs.jobs:
			case <-rs.hungry:
				feed()
				continue
			}
		}
		if !open {
			for n > 0 {
				p, _ := largest()
				flush(p)
			}
			return
		}
		loc, ok, err := rs.r.LookupBlob(j.id)
		l := located{chunkJob: j, loc: loc, ok: ok && err == nil}
		if !l.ok {
			rs.runs <- []located{l} // LoadBlob says what is wrong
			continue
		}
		pp := pend[loc.Pack]
		if pp == nil {
			pp = &pendingPack{}
			pend[loc.Pack] = pp
		}
		pp.jobs = append(pp.jobs, l)
		pp.need += int64(loc.Length)
		n++
		switch {
		case pp.need >= packNeed:
			flush(loc.Pack)
		case n >= maxPending:
			p, _ := largest()
			flush(p)
		default:
			feed()
		}
	}
}

// sendRuns sends the jobs of one pack as runs: sorted by offset, split
// where the gap between needed blobs is large or the span too long.
func (rs *restorer) sendRuns(jobs []located) {
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].loc.Offset < jobs[b].loc.Offset })
	for i := 0; i < len(jobs); {
		start := int64(jobs[i].loc.Offset)
		end := start + int64(jobs[i].loc.Length)
		j := i + 1
		for j < len(jobs) {
			o := int64(jobs[j].loc.Offset)
			e := max(end, o+int64(jobs[j].loc.Length))
			if o-end > runGap || e-start > runSpan {
				break
			}
			end = e
			j++
		}
		rs.runs <- jobs[i:j:j]
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
	rs.idle.Add(1)
	defer rs.idle.Add(-1)
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
				rs.loadOne(l.chunkJob)
			}
			continue
		}
		blobs := make([]index.Blob, len(run))
		for i, l := range run {
			blobs[i] = l.loc
		}
		span, off := rs.arena.acquire(int(repo.SpanLength(blobs)))
		i := 0
		fn := func(_ index.Blob, plain []byte, err error) {
			l := run[i]
			i++
			switch {
			case l.file.failed.Load():
				rs.chunkDone(l.file)
			case errors.Is(err, repo.ErrDamaged):
				// This copy is damaged: LoadBlob reads it again
				// and tries any other copy an index names.
				rs.loadOne(l.chunkJob)
			default:
				rs.write(l.chunkJob, plain, err)
			}
		}
		err := rs.r.LoadBlobsInto(rs.ctx, blobs, span, rs.plain, fn)
		rs.arena.release(span, off)
		if err != nil {
			for _, l := range run {
				rs.write(l.chunkJob, nil, err)
			}
		}
	}
}

// loadOne reads one chunk on its own and writes it.
func (rs *restorer) loadOne(j chunkJob) {
	if j.file.failed.Load() || rs.ctx.Err() != nil {
		rs.stopped(j.file)
		rs.chunkDone(j.file)
		return
	}
	buf := bufpool.Get(int(j.size))
	plain, err := rs.r.LoadBlob(rs.ctx, id.DataBlob, j.id, buf)
	rs.write(j, plain, err)
	bufpool.Put(buf)
}
