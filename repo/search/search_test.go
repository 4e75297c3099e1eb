package search_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/search"
	"github.com/cairn-backup/cairn/repo/tree"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// history ingests six snapshots of one source in which a/notes.txt
// changes, is touched, disappears and comes back.
func history(t *testing.T) (*repo.Repository, string, []*repo.Snapshot) {
	t.Helper()
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	notes := filepath.Join(src, "a", "notes.txt")
	write(t, notes, "v1")
	write(t, filepath.Join(src, "b", "Notes.TXT"), "shouting")
	write(t, filepath.Join(src, "c", "deep", "notes.txt"), "deep")
	write(t, filepath.Join(src, "other.txt"), "other")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []func(){
		func() {},
		func() { write(t, notes, "v2") },
		func() { // metadata only
			mt := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			os.Chtimes(notes, mt, mt)
		},
		func() { os.Remove(notes) },
		func() { write(t, notes, "v2") },
		func() { write(t, notes, "v3") },
	}
	for i, step := range steps {
		step()
		opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s", Time: t0.Add(time.Duration(i) * time.Hour)}
		if _, err := ingest.Run(ctx, r, opt); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(steps) {
		t.Fatalf("%d snapshots", len(snaps))
	}
	return r, filepath.ToSlash(src), snaps
}

// found runs Find and renders each result as "PATH 0,1,2" (snapshot
// indices).
func found(t *testing.T, r *repo.Repository, snaps []*repo.Snapshot, pattern string, opt search.FindOptions) []string {
	t.Helper()
	index := map[*repo.Snapshot]int{}
	for i, sn := range snaps {
		index[sn] = i
	}
	var out []string
	err := search.Find(context.Background(), r, snaps, pattern, opt, func(res search.Result) error {
		var idx []string
		for _, h := range res.Hits {
			if h.Node == nil || h.Node.Name != res.Path[strings.LastIndexByte(res.Path, '/')+1:] {
				t.Errorf("%s: hit node %+v", res.Path, h.Node)
			}
			idx = append(idx, string(rune('0'+index[h.Snapshot])))
		}
		out = append(out, res.Path+" "+strings.Join(idx, ","))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFind(t *testing.T) {
	r, src, snaps := history(t)
	for _, c := range []struct {
		pattern string
		opt     search.FindOptions
		want    []string
	}{
		{"notes.txt", search.FindOptions{}, []string{src + "/a/notes.txt 0,1,2,4,5", src + "/c/deep/notes.txt 0,1,2,3,4,5"}},
		{"notes.*", search.FindOptions{IgnoreCase: true}, []string{src + "/a/notes.txt 0,1,2,4,5", src + "/b/Notes.TXT 0,1,2,3,4,5", src + "/c/deep/notes.txt 0,1,2,3,4,5"}},
		{"NOTES.TXT", search.FindOptions{}, nil},
		{"notes.txt", search.FindOptions{Path: src + "/c"}, []string{src + "/c/deep/notes.txt 0,1,2,3,4,5"}},
		{"notes.txt", search.FindOptions{Path: src + "/nowhere"}, nil},
		{"deep", search.FindOptions{}, []string{src + "/c/deep 0,1,2,3,4,5"}},
		{"deep/*.txt", search.FindOptions{}, []string{src + "/c/deep/notes.txt 0,1,2,3,4,5"}},
		{src + "/*/notes.txt", search.FindOptions{}, []string{src + "/a/notes.txt 0,1,2,4,5"}},
		{src + "/**/notes.txt", search.FindOptions{}, []string{src + "/a/notes.txt 0,1,2,4,5", src + "/c/deep/notes.txt 0,1,2,3,4,5"}},
		{"/c/**", search.FindOptions{}, nil}, // anchored at the snapshot root
		{"?ther.txt", search.FindOptions{}, []string{src + "/other.txt 0,1,2,3,4,5"}},
	} {
		got := found(t, r, snaps, c.pattern, c.opt)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("find %q %+v:\n got %q\nwant %q", c.pattern, c.opt, got, c.want)
		}
	}
	if err := search.Find(context.Background(), r, snaps, "[", search.FindOptions{}, nil); err == nil {
		t.Errorf("bad pattern accepted")
	}
}

// Each distinct tree is loaded once, however many snapshots share it
// (here no tree is found at two paths: one found at several is loaded at
// each).
func TestFindLoadsEachTreeOnce(t *testing.T) {
	r, _, snaps := history(t)
	ctx := context.Background()
	distinct := map[id.ID]bool{}
	total := 0
	for _, sn := range snaps {
		distinct[sn.Tree] = true
		total++
		err := r.Walk(ctx, sn, func(_ string, n *tree.Node) (bool, error) {
			if n.Kind == tree.KindDir {
				distinct[n.Subtree] = true
				total++
			}
			return true, nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	var loads atomic.Int64
	if err := search.Find(ctx, r, snaps, "*", search.FindOptions{TreesLoaded: &loads}, func(search.Result) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if int(loads.Load()) != len(distinct) {
		t.Errorf("loaded %d trees; the snapshots hold %d distinct ones (%d in all)", loads.Load(), len(distinct), total)
	}
}

func TestVersions(t *testing.T) {
	r, src, snaps := history(t)
	ctx := context.Background()
	vs, err := search.Versions(ctx, r, snaps, src+"/a/notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	type v struct {
		first, last, count int
		change             string
		size               uint64
	}
	index := map[*repo.Snapshot]int{}
	for i, sn := range snaps {
		index[sn] = i
	}
	var got []v
	for _, x := range vs {
		got = append(got, v{index[x.Snapshot], index[x.Last], x.Count, x.Change, x.Node.Size})
	}
	// v1; v2 (touched in 2, gone in 3, back unchanged in 4); v3
	want := []v{{0, 0, 1, "new", 2}, {1, 4, 3, "modified", 2}, {5, 5, 1, "modified", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("versions %+v, want %+v", got, want)
	}

	vs, err = search.Versions(ctx, r, snaps, src+"/nothing")
	if err != nil || len(vs) != 0 {
		t.Errorf("missing path: %v %v", vs, err)
	}
	vs, err = search.Versions(ctx, r, snaps, src+"/c/")
	if err != nil || len(vs) != 1 || vs[0].Count != 6 || vs[0].Node.Kind != tree.KindDir {
		t.Errorf("unchanged folder: %+v %v", vs, err)
	}
}

// A tree that cannot be loaded stops Find and Versions with an error that
// names the snapshot.
func TestMissingTreeSaysWhere(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	var lost id.ID
	lost[0] = 1
	root, err := s.SaveTree([]*tree.Node{{Name: "docs", Kind: tree.KindDir, Mode: 0o755, Subtree: lost}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Tree: root, Paths: []string{"/docs"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	snaps := []*repo.Snapshot{sn}
	err = search.Find(ctx, r, snaps, "*", search.FindOptions{}, func(search.Result) error { return nil })
	if err == nil || !strings.Contains(err.Error(), sn.ID.Short()) || !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Find: %v: want an error naming snapshot %s", err, sn.ID.Short())
	}
	_, err = search.Versions(ctx, r, snaps, "/docs/x")
	if err == nil || !strings.Contains(err.Error(), sn.ID.Short()) || !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Versions: %v: want an error naming snapshot %s", err, sn.ID.Short())
	}
}

// Versions follows each host and source on its own: a version belongs to
// one of them, is "new" the first time that one holds the path, and is
// never folded into another's; versions come in the order of their first
// snapshot.
func TestVersionsPerHostAndSource(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	notes := filepath.Join(src, "notes.txt")
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct{ host, content string }{
		{"alpha", "one"},
		{"beta", "one"},   // same content as alpha's: still beta's first version
		{"alpha", "two"},  // alpha changed
		{"beta", "one"},   // beta did not: folded into beta's first version
		{"beta", "three"}, // beta changed
		{"alpha", "two"},
	}
	for i, s := range steps {
		write(t, notes, s.content)
		opt := ingest.Options{Paths: []string{src}, Host: s.host, Source: "s", Time: t0.Add(time.Duration(i) * time.Hour)}
		if _, err := ingest.Run(ctx, r, opt); err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := search.Versions(ctx, r, snaps, filepath.ToSlash(notes))
	if err != nil {
		t.Fatal(err)
	}
	index := map[*repo.Snapshot]int{}
	for i, sn := range snaps {
		index[sn] = i
	}
	type v struct {
		host          string
		first, last   int
		count         int
		change        string
		size          uint64
		previousFirst int // -1: none
	}
	var got []v
	for _, x := range vs {
		if x.Last.Host != x.Snapshot.Host || x.Last.Source != x.Snapshot.Source {
			t.Errorf("version from %s · %s runs until a snapshot of %s · %s", x.Snapshot.Host, x.Snapshot.Source, x.Last.Host, x.Last.Source)
		}
		prev := -1
		if x.Previous != nil {
			prev = index[x.Previous.Snapshot]
		}
		got = append(got, v{x.Snapshot.Host, index[x.Snapshot], index[x.Last], x.Count, x.Change, x.Node.Size, prev})
	}
	want := []v{
		{"alpha", 0, 0, 1, "new", 3, -1},
		{"beta", 1, 3, 2, "new", 3, -1},
		{"alpha", 2, 5, 2, "modified", 3, 0},
		{"beta", 4, 4, 1, "modified", 5, 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("versions\n%+v\nwant\n%+v", got, want)
	}
}

// Find emits as it walks: the first match comes before most trees are
// loaded, so memory does not grow with the number of matches.
func TestFindStreams(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	const dirs = 60
	for i := 0; i < dirs; i++ {
		write(t, filepath.Join(src, fmt.Sprintf("d%02d", i), "f.txt"), fmt.Sprint(i))
	}
	if _, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}); err != nil {
		t.Fatal(err)
	}
	snaps, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var loads atomic.Int64
	var atFirst int64 = -1
	n := 0
	err = search.Find(ctx, r, snaps, "f.txt", search.FindOptions{Workers: 1, TreesLoaded: &loads}, func(res search.Result) error {
		if atFirst < 0 {
			atFirst = loads.Load()
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != dirs {
		t.Fatalf("%d matches, want %d", n, dirs)
	}
	if atFirst > dirs/2 {
		t.Errorf("first match emitted after %d of %d trees were loaded: Find holds its results instead of streaming them", atFirst, loads.Load())
	}
}
