package ingest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/cairn-backup/cairn/repo/tree"
)

// TestCacheRecordRetained measures what a first ingest keeps per file
// until it writes the file-change cache: each new file's key was held in
// two maps (out and seen), 35 bytes more per file than needed.
func TestCacheRecordRetained(t *testing.T) {
	const n = 100000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/src/d%03d/f%06d", i/1000, i)
	}
	node := &tree.Node{Name: "f", Kind: tree.KindFile, Size: 1}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := &fileCache{out: map[string][]byte{}, seen: map[string]struct{}{}}
	for _, p := range paths {
		c.record(p, node)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	runtime.KeepAlive(c)
	t.Logf("%d bytes retained per new file", per)
	if len(c.out) != n {
		t.Fatalf("%d entries to write, want %d", len(c.out), n)
	}
	if per > 80 {
		t.Errorf("%d bytes retained per new file, want at most 80", per)
	}
}
