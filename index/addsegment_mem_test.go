package index

import (
	"crypto/rand"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
)

// randomPacks returns n packs of per random blobs each.
func randomPacks(n, per int) []Pack {
	packs := make([]Pack, n)
	for i := range packs {
		p := Pack{Type: id.DataBlob, Blobs: make([]Blob, per)}
		rand.Read(p.ID[:])
		for j := range p.Blobs {
			rand.Read(p.Blobs[j].ID[:])
			p.Blobs[j].Type, p.Blobs[j].Pack, p.Blobs[j].Length = id.DataBlob, p.ID, 1000
		}
		packs[i] = p
	}
	return packs
}

// heapPeak runs fn and returns how far the heap in use rose above what it
// was before, sampled every 2 ms.
func heapPeak(fn func() error) (int64, error) {
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	err := fn()
	close(stop)
	<-done
	return int64(peak.Load()) - int64(base.HeapInuse), err
}

// TestAddSegmentBoundedMemory adds a checkpoint's segment of 50,000 blobs
// to an index of 400,000: in one transaction, its blobs, landing at random
// among the others, changed nearly every leaf of the index, each held in
// memory until the commit (some 200 MB at a million files). The heap now
// grows by what a transaction of putTxBlobs changes, whatever the index
// holds.
func TestAddSegmentBoundedMemory(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "idx"), "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.AddSegment(id.ID{1}, randomPacks(400, 1000)); err != nil {
		t.Fatal(err)
	}
	packs := randomPacks(50, 1000)
	grew, err := heapPeak(func() error { return d.AddSegment(id.ID{2}, packs) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("heap grew by %d KiB adding 50,000 blobs to 400,000", grew>>10)
	if grew > 24<<20 {
		t.Errorf("heap grew by %d MiB adding a segment of 50,000 blobs: want it bounded by a transaction of %d", grew>>20, putTxBlobs)
	}
	segs, err := d.Segments()
	if err != nil {
		t.Fatal(err)
	}
	if !segs[id.ID{1}] || !segs[id.ID{2}] {
		t.Fatalf("segments recorded: %v", segs)
	}
	for _, p := range packs {
		for _, b := range p.Blobs {
			got, ok, err := d.Lookup(b.ID)
			if err != nil || !ok || got.Pack != p.ID {
				t.Fatalf("blob %s: %+v %v %v", b.ID.Short(), got, ok, err)
			}
		}
	}
}
