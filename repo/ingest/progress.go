package ingest

import (
	"sync"
	"time"
)

// Progress is a snapshot of the counters while an ingest runs.
type Progress struct {
	Elapsed    time.Duration
	FilesDone  int64
	BytesDone  int64
	TotalFiles int64 // from the concurrent scan; final when ScanDone
	TotalBytes int64
	ScanDone   bool
	Errors     int64
	Current    string
	// Finishing: every file was read; the last packs, the index and the
	// file-change cache are being written (minutes, after a million new
	// files), so the counts stay while the time goes on.
	Finishing bool
	// HolesDone and TotalHoles are the parts of BytesDone and TotalBytes
	// that are holes of sparse files, which cost no reading: an estimate
	// of the time left leaves them out, or three 5 GiB disk images with
	// little data in them said 1:42:00 left when a second was.
	HolesDone  int64
	TotalHoles int64
}

func (g *ingester) startProgress(start time.Time) func() {
	if g.opt.Progress == nil {
		return func() {}
	}
	iv := g.opt.Interval
	if iv <= 0 {
		iv = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-done:
				g.opt.Progress(g.progress(start))
				return
			case <-t.C:
				g.opt.Progress(g.progress(start))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// progress is the ingest's progress so far. The totals are the scan's
// sizes, which a file that yields more than its size said (one growing as
// it is read, a pseudo-file of size 0) outruns: they are never reported
// below what is done, so the fraction done stays at most one; and once
// every file was read, what was done is the total, whether or not the
// scan has finished by then.
func (g *ingester) progress(start time.Time) Progress {
	p := Progress{
		Elapsed: time.Since(start), FilesDone: g.prog.filesDone.Load(), BytesDone: g.prog.bytesDone.Load(),
		TotalFiles: g.prog.totalFiles.Load(), TotalBytes: g.prog.totalBytes.Load(), ScanDone: g.prog.scanDone.Load(),
		Errors: g.counts.unreadable.Load(), Current: g.prog.current.Load().(string),
		Finishing: g.prog.finishing.Load(),
		HolesDone: g.prog.holesDone.Load(), TotalHoles: g.prog.totalHoles.Load(),
	}
	if p.Finishing {
		p.Current = ""
	}
	if g.prog.walked.Load() {
		p.ScanDone, p.TotalFiles, p.TotalBytes, p.TotalHoles = true, p.FilesDone, p.BytesDone, p.HolesDone
	}
	p.TotalFiles = max(p.TotalFiles, p.FilesDone)
	p.TotalBytes = max(p.TotalBytes, p.BytesDone)
	p.TotalHoles = min(max(p.TotalHoles, p.HolesDone), p.TotalBytes)
	return p
}
