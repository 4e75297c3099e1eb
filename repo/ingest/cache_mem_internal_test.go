package ingest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// recordRetained records n new files, as a first ingest does, into a
// cache over a fresh index, waits for the batches written meanwhile, and
// returns the heap then in use per file (what the ingest holds until its
// end, beside the batches in flight, which do not grow with the files),
// and the cache, whose finish remains to be called.
func recordRetained(tb testing.TB, n int) (int64, *fileCache) {
	d, err := index.Open(filepath.Join(tb.TempDir(), "idx"), "repo-a", time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	c := &fileCache{db: d, key: "h\x00s", paths: []string{"/src"}}
	node := &tree.Node{Name: "f", Kind: tree.KindFile, Size: 4000, MTime: 1e18, CTime: 1e18, Inode: 1 << 30,
		Content: []tree.Chunk{{Size: 4000}}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		node.Name = fmt.Sprintf("message-%07d.eml", i)
		c.record(fmt.Sprintf("/src/home/user/Maildir/folder%04d/cur/%s", i/300, node.Name), node)
	}
	c.mu.Lock()
	last := c.batch
	c.batch = nil
	c.mu.Unlock()
	c.write(last)
	c.write(nil) // received once the writer is done with last
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(n), c
}

// TestCacheRecordRetained checks that what an ingest holds per file for
// the file-change cache does not grow with the files: it held every new
// entry (key and value, some 200 bytes a file) until its end, 200 MB at a
// million files, and now writes them a batch at a time, keeping 16 bytes
// a file to know which stored entries to drop.
func TestCacheRecordRetained(t *testing.T) {
	const n = 200000
	per, c := recordRetained(t, n)
	t.Logf("%d bytes retained per new file", per)
	if per > 48 {
		t.Errorf("%d bytes retained per new file, want at most 48", per)
	}
	if err := c.finish(true); err != nil {
		t.Fatal(err)
	}
	got := 0
	for i := range (n + 299) / 300 {
		if err := c.db.DirFiles(c.key, fmt.Sprintf("/src/home/user/Maildir/folder%04d/cur", i), func(string, []byte, func(id.ID) (index.Blob, bool)) { got++ }); err != nil {
			t.Fatal(err)
		}
	}
	if got != n {
		t.Fatalf("cache holds %d entries, want %d", got, n)
	}
}

// BenchmarkCacheRecord reports the heap an ingest holds per new file for
// the file-change cache until its end.
func BenchmarkCacheRecord(b *testing.B) {
	for range b.N {
		per, c := recordRetained(b, 200000)
		b.ReportMetric(float64(per), "retained-B/file")
		if err := c.finish(true); err != nil {
			b.Fatal(err)
		}
	}
}
