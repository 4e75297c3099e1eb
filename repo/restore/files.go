package restore

import (
	"fmt"
	"os"
	"sync"
	"time"

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
				of.failed.Store(true)
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

func (rs *restorer) worker() {
	defer rs.wg.Done()
	for j := range rs.jobs {
		if j.file.failed.Load() || rs.ctx.Err() != nil {
			rs.chunkDone(j.file)
			continue
		}
		buf := bufpool.Get(int(j.size))
		plain, err := rs.r.LoadBlob(rs.ctx, id.DataBlob, j.id, buf)
		if err == nil && uint64(len(plain)) != j.size {
			err = fmt.Errorf("chunk %s is %d bytes, the tree says %d", j.id.Short(), len(plain), j.size)
		}
		if err == nil {
			_, err = j.file.f.WriteAt(plain, j.off)
			if err == nil {
				rs.stats.bytes.Add(int64(len(plain)))
			}
		}
		bufpool.Put(plain)
		if err != nil {
			if j.file.failed.CompareAndSwap(false, true) {
				rs.warn(j.file.path, fmt.Errorf("at offset %d: %w", j.off, err))
			}
		}
		rs.chunkDone(j.file)
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
