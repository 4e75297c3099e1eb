package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Only files the last ingest did not record are read ahead: the others
// are mostly unchanged, and an unchanged ingest must read no file data.
func TestPrefetchOnlyNewFiles(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	old := filepath.Join(src, "old")
	if err := os.WriteFile(old, []byte("recorded"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, r, Options{Paths: []string{src}, Host: "h", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	g := &ingester{cache: newFileCache(r, "h", "s", []string{src}, false, nil)}
	g.prefetch = make(chan prefetchJob, 4)
	fresh := filepath.Join(src, "new")
	for _, p := range []string{old, fresh} {
		g.prefetchFile(&fileJob{path: p, node: &tree.Node{Kind: tree.KindFile, Size: 8}})
	}
	close(g.prefetch)
	var got []string
	for j := range g.prefetch {
		got = append(got, j.path)
	}
	if len(got) != 1 || got[0] != fresh {
		t.Fatalf("read ahead %q, want only the new file %q", got, fresh)
	}
	// Another source has recorded nothing: everything is new to it.
	if newFileCache(r, "h", "other", []string{src}, false, nil).known(old) {
		t.Fatal("a file no ingest of this source recorded counts as known")
	}
}

// What was read ahead and not yet read stays within its budget, and a
// file's share is given back when its worker is done with it.
func TestPrefetchBudget(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	g := &ingester{cache: newFileCache(r, "h", "s", []string{"/nowhere"}, false, nil)}
	g.prefetch = make(chan prefetchJob, 1000)
	var jobs []*fileJob
	for i := range 200 {
		fj := &fileJob{path: fmt.Sprintf("/nowhere/%d", i), node: &tree.Node{Kind: tree.KindFile, Size: prefetchMax}}
		g.prefetchFile(fj)
		jobs = append(jobs, fj)
	}
	if got := len(g.prefetch); got != prefetchBudget/prefetchMax {
		t.Fatalf("%d files of %d bytes read ahead, want the budget's %d", got, prefetchMax, prefetchBudget/prefetchMax)
	}
	if g.prefetched.Load() != prefetchBudget {
		t.Fatalf("%d bytes counted as read ahead, want %d", g.prefetched.Load(), prefetchBudget)
	}
	// A file worker takes the queued files and is done.
	d := &dirState{g: g, nodes: make([]*tree.Node, len(jobs))}
	d.pending.Store(int64(len(jobs)) + 1) // the listing never ends here
	work := func(ctx context.Context, jobs []*fileJob) {
		g.ctx = ctx
		g.files = make(chan *fileJob, len(jobs))
		for i, fj := range jobs {
			fj.dir, fj.slot = d, i
			fj.done = make(chan struct{})
			g.files <- fj
		}
		close(g.files)
		g.fileWG.Add(1)
		g.fileWorker()
	}
	// Files that cannot be opened: the share is given back all the same.
	work(ctx, jobs)
	if n := g.prefetched.Load(); n != 0 {
		t.Fatalf("%d bytes still counted as read ahead after every file was done", n)
	}
	// Files drained unread when the ingest stops give theirs back too.
	var drained []*fileJob
	for i := range 8 {
		fj := &fileJob{path: fmt.Sprintf("/nowhere/drained-%d", i), node: &tree.Node{Kind: tree.KindFile, Size: 1000}}
		g.prefetchFile(fj)
		drained = append(drained, fj)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	work(cctx, drained)
	if n := g.prefetched.Load(); n != 0 {
		t.Fatalf("%d bytes still counted as read ahead after the drained files", n)
	}
}

// Separate ingests of two folders under one host and source (/etc, then
// /home, each night) each keep what the other recorded in the
// file-change cache, and each takes its own last run as its parent: the
// next ingest of either reads none of its unchanged files again.
func TestSeparatePathsKeepTheirCache(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("in "+dir), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(dir string) *repo.Snapshot {
		t.Helper()
		res, err := Run(ctx, r, Options{Paths: []string{dir}, Host: "h", Source: "s"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Snapshot
	}
	first := run(a)
	run(b)
	if !newFileCache(r, "h", "s", []string{a}, false, nil).known(filepath.Join(a, "f")) {
		t.Error("the ingest of another folder dropped what the first recorded: its files would all be read again")
	}
	again := run(a)
	if again.Parent == nil || *again.Parent != first.ID {
		t.Errorf("parent %v, want %s, the last snapshot of the same paths", again.Parent, first.ID.Short())
	}
	if s := again.Summary; s.FilesUnchanged != 1 || s.FilesNew != 0 {
		t.Errorf("summary %+v: the file should be unchanged against its own folder's last snapshot", s)
	}
}
