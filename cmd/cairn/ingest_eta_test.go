package main

import (
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/ingest"
)

// The time left leaves out the holes of sparse files, which are not read:
// 2 GiB of small files done in 780 s, three 5 GiB disk images with 12 KiB
// of data each to go, said 1:42:00 left when a second was.
func TestIngestETALeavesOutHoles(t *testing.T) {
	const gib = 1 << 30
	p := ingest.Progress{Elapsed: 780 * time.Second, ScanDone: true,
		BytesDone: 2 * gib, TotalBytes: 2*gib + 15*gib, TotalHoles: 15*gib - 3*12<<10}
	if e := ingestETA(p); e < 0 || e > 10*time.Second {
		t.Fatalf("ETA %v with only holes and 36 KiB of data left, want a few seconds", e)
	}
	p.BytesDone, p.TotalBytes, p.TotalHoles = gib, 2*gib, 0
	if e := ingestETA(p); e != 780*time.Second {
		t.Fatalf("ETA %v half way through files without holes, want 13:00", e)
	}
	// Interrupted half way: the last packs are stored, nothing more read.
	p.Finishing = true
	if e := ingestETA(p); e >= 0 {
		t.Fatalf("ETA %v while the last packs are stored after an interrupt half way, want none", e)
	}
}

// A --json status line agrees with itself: percent_done is bytes_done /
// total_bytes, and both leave out holes, as seconds_remaining does. A
// 300 GiB disk image with 600 MiB of data, 580 MiB of it read, said 0.26%
// done and 0 s left.
func TestStatusLeavesOutHoles(t *testing.T) {
	const mib = 1 << 20
	p := ingest.Progress{Elapsed: 13 * time.Second, ScanDone: true, FilesDone: 1, TotalFiles: 2,
		BytesDone: 780 * mib, TotalBytes: 300<<30 + 200*mib, TotalHoles: 300<<30 - 600*mib}
	m := statusJSON(p)
	done, total, pct := m["bytes_done"].(int64), m["total_bytes"].(int64), m["percent_done"].(float64)
	if done != 780*mib || total != 800*mib {
		t.Errorf("status says %d of %d bytes done, want the data: %d of %d", done, total, 780*mib, 800*mib)
	}
	if pct != float64(done)/float64(total) || pct < 0.97 {
		t.Errorf("percent_done %v for %d of %d bytes of data done", pct, done, total)
	}
	if s := m["seconds_remaining"].(int); s > 1 {
		t.Errorf("seconds_remaining %d with 20 MiB of data left at 60 MiB/s", s)
	}
	// Once over, the status is whole and agrees with the summary's files.
	p.BytesDone, p.HolesDone, p.FilesDone = p.TotalBytes, p.TotalHoles, 2
	if m := statusJSON(p); m["percent_done"] != 1.0 || m["bytes_done"] != m["total_bytes"] {
		t.Errorf("last status %v", m)
	}
}

// An ingest with no data to read, only a disk image that is all hole,
// still says how far it is: the status lines had total_bytes 0 and no
// percent_done, even the last one (before holes were left out, it went
// from 0 to 1).
func TestStatusAllHoles(t *testing.T) {
	const gib = 1 << 30
	p := ingest.Progress{Elapsed: time.Second, ScanDone: true, TotalFiles: 1, TotalBytes: 100 * gib, TotalHoles: 100 * gib}
	if m := statusJSON(p); m["percent_done"] != 0.0 || m["total_bytes"] != int64(0) {
		t.Errorf("status before the image %v, want percent_done 0 of total_bytes 0", m)
	}
	p.FilesDone, p.BytesDone, p.HolesDone = 1, 100*gib, 100*gib
	if m := statusJSON(p); m["percent_done"] != 1.0 {
		t.Errorf("last status %v, want percent_done 1", m)
	}
}
