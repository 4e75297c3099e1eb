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
