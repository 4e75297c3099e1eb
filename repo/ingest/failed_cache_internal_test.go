package ingest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// An ingest writes file-change cache entries as it walks, naming blobs
// that are neither uploaded nor indexed yet. When it then fails (here
// storage fails every call half-way, so no pack and no index segment is
// stored), those entries must not make the next ingest skip a file: the
// snapshot would name blobs the repository does not have.
func TestFailedIngestCacheDoesNotVouch(t *testing.T) {
	defer func(n int) { cacheBatch = n }(cacheBatch)
	cacheBatch = 20
	fb := fault.New(mem.New(), fault.Options{})
	r := repo.TestRepositoryOn(t, fb)
	src := t.TempDir()
	const files = 400
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%04d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := make([]byte, 2000)
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var broken sync.Once
	opt := Options{Paths: []string{src}, Host: "h", Source: "s", Interval: time.Millisecond, Progress: func(p Progress) {
		if p.FilesDone >= files/2 {
			broken.Do(func() { fb.Set(fault.Options{ErrorRate: 1}) })
		}
	}}
	if _, err := Run(context.Background(), r, opt); err == nil {
		t.Fatal("the ingest succeeded with storage failing every call")
	}
	fb.Set(fault.Options{})
	if n, err := r.Index().HasFiles("h\x00s", []string{src}); err != nil || !n {
		t.Fatalf("the failed ingest wrote no cache entries (%v): the test no longer covers them", err)
	}
	opt.Progress = nil
	res, err := Run(context.Background(), r, opt)
	if err != nil {
		t.Fatal(err)
	}
	// The local index afresh from the stored segments, the truth.
	if err := r.Index().ResetBlobs(); err != nil {
		t.Fatal(err)
	}
	if err := r.SyncIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	var walk func(tid id.ID) int
	walk = func(tid id.ID) int {
		nodes, err := r.LoadTree(context.Background(), tid)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, nd := range nodes {
			switch nd.Kind {
			case tree.KindDir:
				n += walk(nd.Subtree)
			case tree.KindFile:
				n++
				for _, c := range nd.Content {
					if _, ok, err := r.Index().Lookup(c.ID); err != nil || !ok {
						t.Fatalf("snapshot's file %s names blob %s, which no index segment holds (%v)", nd.Name, c.ID.Short(), err)
					}
				}
			}
		}
		return n
	}
	if n := walk(res.Snapshot.Tree); n != files {
		t.Fatalf("snapshot holds %d files, want %d", n, files)
	}
}
