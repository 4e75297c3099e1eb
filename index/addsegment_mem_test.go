package index

import (
	"crypto/rand"
	"errors"
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

// A segment's blobs go in over several transactions: a run stopped before
// the last left blobs located in packs of no recorded segment, which
// stayed for good once that segment was no longer stored (lost, or
// removed by a prune), though the stored segments are the truth. The
// segment is now marked partial from the first transaction on, its packs
// recorded, until the last one records it.
func TestAddSegmentInterruptedIsPartial(t *testing.T) {
	defer func(n int) { putTxBlobs = n }(putTxBlobs)
	putTxBlobs = 100
	d, err := Open(filepath.Join(t.TempDir(), "idx"), "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	packs := randomPacks(3, 100)
	sup := []id.ID{{9}}
	addPacksFail = errors.New("stopped")
	err = d.AddSegmentInfo(id.ID{2}, SegmentInfo{Loaded: true, Supersedes: sup}, packs)
	addPacksFail = nil
	if err == nil {
		t.Fatal("the last transaction did not fail")
	}
	located := 0
	for _, p := range packs {
		for _, b := range p.Blobs {
			if _, ok, _ := d.Lookup(b.ID); ok {
				located++
			}
		}
	}
	if located == 0 {
		t.Fatal("no blob located before the last transaction: the test no longer stops a load in the middle")
	}
	infos, err := d.SegmentInfos()
	if err != nil {
		t.Fatal(err)
	}
	info, ok := infos[id.ID{2}]
	if !ok || !info.Partial || info.Loaded || len(info.Supersedes) != 1 || info.Supersedes[0] != sup[0] {
		t.Fatalf("segment stopped with %d blobs located: recorded %v as %+v, want partial, not loaded, superseding %v", located, ok, info, sup)
	}
	if gone, err := d.Unindexed([]id.ID{packs[0].ID}); err != nil || len(gone) != 0 {
		t.Fatalf("a pack with located blobs is not recorded (%v)", err)
	}
	if err := d.AddSegmentInfo(id.ID{2}, SegmentInfo{Loaded: true, Supersedes: sup}, packs); err != nil {
		t.Fatal(err)
	}
	infos, err = d.SegmentInfos()
	if err != nil {
		t.Fatal(err)
	}
	if info := infos[id.ID{2}]; info.Partial || !info.Loaded {
		t.Fatalf("segment added again recorded as %+v", info)
	}
}
