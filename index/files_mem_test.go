package index

import (
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cairn-backup/cairn/repo/id"
)

// TestUpdateFilesBoundedMemory writes the cache of a large first ingest
// and checks that the heap does not grow with the number of entries: one
// transaction for all of them held every page it dirtied until commit
// (some 250 MB for 750k files).
func TestUpdateFilesBoundedMemory(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "idx"), "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n = 200000
	changed := make(map[string][]byte, n)
	seen := make(map[string]struct{}, n)
	v := make([]byte, 120)
	for i := range n {
		k := string(FileKey(fmt.Sprintf("/src/d%03d", i/1000), fmt.Sprintf("f%06d", i)))
		changed[k] = v
		seen[k] = struct{}{}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
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
	err = d.UpdateFiles("h\x00s", []string{"/src"}, changed, seen)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap grew by %d KiB writing %d entries", grew>>10, n)
	// The entries' pages alone are n*(len(v)+key) ≈ 30 MB.
	if grew > 25<<20 {
		t.Errorf("heap grew by %d MiB writing %d entries: want it bounded by the batch", grew>>20, n)
	}
	got := 0
	for i := range 200 {
		if err := d.DirFiles("h\x00s", fmt.Sprintf("/src/d%03d", i), func(string, []byte, func(id.ID) (Blob, bool)) { got++ }); err != nil {
			t.Fatal(err)
		}
	}
	if got != n {
		t.Fatalf("cache holds %d entries, want %d", got, n)
	}
}

// TestUpdateFilesFillsPages checks that a first ingest's cache, written
// in key order, fills its pages instead of leaving them half empty.
func TestUpdateFilesFillsPages(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "idx"), "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n = 50000
	changed := make(map[string][]byte, n)
	v := make([]byte, 60)
	for i := range n {
		changed[string(FileKey(fmt.Sprintf("/src/d%03d", i/1000), fmt.Sprintf("f%06d", i)))] = v
	}
	if err := d.UpdateFiles("h\x00s", []string{"/src"}, changed, nil); err != nil {
		t.Fatal(err)
	}
	var used int
	err = d.bolt.View(func(tx *bolt.Tx) error {
		s := tx.Bucket(bFiles).Bucket([]byte("h\x00s")).Stats()
		used = s.LeafInuse * 100 / s.LeafAlloc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leaf pages %d%% used", used)
	if used < 80 {
		t.Errorf("leaf pages %d%% used, want at least 80%%", used)
	}
}
