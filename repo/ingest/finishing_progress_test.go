package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// Progress goes on, marked Finishing, while the last packs and the index
// are stored after every file was read. It used to stop there: after a
// first ingest of a million small files the counts stood at 100% for two
// minutes with no line at all, as if the ingest had hung.
func TestProgressWhileFinishing(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Every call to storage takes a while, as to a slow remote: storing
	// the pack and the index after the walk takes several ticks.
	const latency = 150 * time.Millisecond
	r := repo.TestRepositoryOn(t, fault.New(mem.New(), fault.Options{Latency: latency}))
	var mu sync.Mutex
	var all []ingest.Progress
	_, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{dir}, Host: "h", Source: "s",
		Interval: 10 * time.Millisecond,
		Progress: func(p ingest.Progress) {
			mu.Lock()
			all = append(all, p)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	finishing := 0
	for _, p := range all {
		if p.Finishing {
			finishing++
			if p.FilesDone != 3 || p.TotalFiles != 3 || !p.ScanDone || p.Current != "" {
				t.Errorf("finishing progress %+v: want 3 of 3 files done, no current file", p)
			}
		} else if finishing > 0 {
			t.Errorf("progress %+v after one that was finishing", p)
		}
	}
	// A tick at least while storage answers, and the last report.
	if finishing < 2 || !all[len(all)-1].Finishing {
		t.Fatalf("%d progress reports while the pack and index were stored, the last finishing: %v; want them every tick until the end", finishing, all[len(all)-1].Finishing)
	}
}
