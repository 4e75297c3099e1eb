package tui

import (
	"context"
	"fmt"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// benchRepo is a repository with 1,000 snapshots sharing one tree whose
// folder /big holds 100,000 entries. Snapshot objects are written
// directly, not ingested.
func benchRepo(b *testing.B) *repo.Repository {
	b.Helper()
	ctx := context.Background()
	r := repo.TestRepository(b)
	s := r.NewSaver(ctx, 2)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	big := make([]*tree.Node, 100_000)
	for i := range big {
		big[i] = &tree.Node{Name: fmt.Sprintf("file-%06d.dat", i), Kind: tree.KindFile, Mode: 0o644, UID: 1000, GID: 1000,
			MTime: t0.Add(time.Duration(i) * time.Second).UnixNano(), Size: uint64(i * 17), Links: 1,
			Content: []tree.Chunk{{Size: uint64(i * 17), Hole: true}}}
		if i == 0 {
			big[i].Content = nil
		}
	}
	bigID, err := s.SaveTree(big)
	if err != nil {
		b.Fatal(err)
	}
	root, err := s.SaveTree([]*tree.Node{{Name: "big", Kind: tree.KindDir, Mode: 0o755, Subtree: bigID}})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		sn := &repo.Snapshot{Time: t0.Add(time.Duration(i) * time.Hour), Tree: root, Paths: []string{"/big"},
			Host: fmt.Sprintf("host-%d", i%7), Source: fmt.Sprintf("src-%d", i%3), Tags: []string{"bench"},
			Summary: &repo.Summary{TotalBytes: int64(i) << 20, DataAdded: int64(i) << 10}}
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// benchApp is an App at 160×50 without a terminal, running commands
// synchronously as the harness does.
func benchApp(b *testing.B, r *repo.Repository) *harness {
	a := New(context.Background(), r, Options{Location: time.UTC})
	a.static = true
	h := &harness{t: b, a: a}
	h.send(tea.WindowSizeMsg{Width: 160, Height: 50})
	return h
}

// BenchmarkSnapshotList: from a new App to the list of 1,000 snapshots
// drawn, through the command the UI runs.
func BenchmarkSnapshotList(b *testing.B) {
	r := benchRepo(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := benchApp(b, r)
		h.run(h.a.Init())
		if p := h.a.top().(*snapshotsPage); len(p.items) != 1000 {
			b.Fatalf("%d snapshots listed", len(p.items))
		}
		_ = h.a.View()
	}
}

// BenchmarkDirectoryEnter: from the root of a snapshot, enter the folder
// of 100,000 entries and draw it.
func BenchmarkDirectoryEnter(b *testing.B) {
	r := benchRepo(b)
	h := benchApp(b, r)
	h.run(h.a.Init())
	h.keys("enter", "h") // a snapshot of /big opens in it: go up to the root
	p := h.a.top().(*treePage)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.keys("enter")
		if len(p.nodes) != 100_000 {
			b.Fatalf("%d entries in %s: %v (status %s)", len(p.nodes), p.dir, p.err, h.a.status)
		}
		_ = h.a.View()
		b.StopTimer()
		h.keys("h")
		b.StartTimer()
	}
}

// BenchmarkFilterTyping: in the folder of 100,000 entries, type a filter
// of 8 characters key by key (each key redrawn), then clear it.
func BenchmarkFilterTyping(b *testing.B) {
	r := benchRepo(b)
	h := benchApp(b, r)
	h.run(h.a.Init())
	h.keys("enter")
	p := h.a.top().(*treePage)
	if len(p.nodes) != 100_000 {
		b.Fatalf("%d entries", len(p.nodes))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.keys("/")
		for _, k := range "e-099999" {
			h.keys(string(k))
			_ = h.a.View()
		}
		if len(p.vis) != 1 {
			b.Fatalf("%d entries match", len(p.vis))
		}
		h.keys("esc")
	}
}
