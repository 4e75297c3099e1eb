package search_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/search"
	"github.com/cairn-backup/cairn/repo/tree"
)

// The browse benchmark repository: benchSnaps snapshots (host "bench",
// source "tree") of /bench/data, a tree of benchGroups x benchDirs folders
// of benchFiles files (100,000 files), with benchChanges random files
// changed from one snapshot to the next and /bench/data/g03/d042/needle.txt
// changed every 100th; and one snapshot (source "flat") of /flat/big, a
// single folder of benchFlat entries. File contents are tiny shared
// blobs: the benchmarks read trees only.
const (
	benchGroups  = 10
	benchDirs    = 100
	benchFiles   = 100
	benchSnaps   = 1000
	benchChanges = 5
	benchFlat    = 100_000

	benchNeedle = "/bench/data/g03/d042/needle.txt"
	// benchRepoEnv names the folder of the benchmark repository. Unset,
	// the benchmarks use (and make, once) one under the temp folder.
	benchRepoEnv = "CAIRN_BENCH_BROWSE_REPO"
)

// TestGenerateBrowseRepo writes the benchmark repository into
// $CAIRN_BENCH_BROWSE_REPO (which must not hold one yet), for
// bench/browse.sh to time the cairn binary on. Skipped when unset.
func TestGenerateBrowseRepo(t *testing.T) {
	dir := os.Getenv(benchRepoEnv)
	if dir == "" {
		t.Skip(benchRepoEnv + " not set")
	}
	start := time.Now()
	generateBrowseRepo(t, dir)
	t.Logf("generated %s in %v", dir, time.Since(start).Round(time.Millisecond))
}

func generateBrowseRepo(tb testing.TB, dir string) {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	be, err := local.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	opt := benchOptions(dir)
	if err := repo.Init(ctx, be, opt); err != nil {
		tb.Fatal(err)
	}
	r, err := repo.Open(ctx, be, opt)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	s := r.NewSaver(ctx, 2)
	must := func(tid id.ID, err error) id.ID {
		if err != nil {
			tb.Fatal(err)
		}
		return tid
	}
	nblobs := 0
	blob := func() tree.Chunk {
		b := []byte(fmt.Sprintf("content of version %d\n", nblobs))
		nblobs++
		bid := r.Codec().IDFor(id.DataBlob, b)
		if _, err := s.Save(id.DataBlob, bid, b); err != nil {
			tb.Fatal(err)
		}
		return tree.Chunk{ID: bid, Size: uint64(len(b))}
	}
	pool := make([]tree.Chunk, 64)
	for i := range pool {
		pool[i] = blob()
	}
	t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	file := func(name string, c tree.Chunk, mt time.Time) *tree.Node {
		return &tree.Node{Name: name, Kind: tree.KindFile, Mode: 0o644, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: mt.UnixNano(), ATime: mt.UnixNano(), CTime: mt.UnixNano(), Size: c.Size, Links: 1, Content: []tree.Chunk{c}}
	}
	folder := func(name string, sub id.ID, mt time.Time) *tree.Node {
		return &tree.Node{Name: name, Kind: tree.KindDir, Mode: 0o755, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: mt.UnixNano(), ATime: mt.UnixNano(), CTime: mt.UnixNano(), Links: 2, Subtree: sub}
	}
	chain := func(sub id.ID, mt time.Time, names ...string) id.ID {
		for i := len(names) - 1; i >= 0; i-- {
			sub = must(s.SaveTree([]*tree.Node{folder(names[i], sub, mt)}))
		}
		return sub
	}

	// Snapshot 0.
	var leaves [benchGroups][benchDirs][]*tree.Node
	var leafIDs [benchGroups][benchDirs]id.ID
	var groupIDs [benchGroups]id.ID
	for g := range leaves {
		for d := range leaves[g] {
			for f := 0; f < benchFiles; f++ {
				leaves[g][d] = append(leaves[g][d], file(fmt.Sprintf("f%03d.dat", f), pool[(g*benchDirs+d+f)%len(pool)], t0))
			}
		}
	}
	leaves[3][42] = append(leaves[3][42], file("needle.txt", blob(), t0))
	saveLeaf := func(g, d int) { leafIDs[g][d] = must(s.SaveTree(leaves[g][d])) }
	saveGroup := func(g int, mt time.Time) {
		nodes := make([]*tree.Node, benchDirs)
		for d := range nodes {
			nodes[d] = folder(fmt.Sprintf("d%03d", d), leafIDs[g][d], mt)
		}
		groupIDs[g] = must(s.SaveTree(nodes))
	}
	root := func(mt time.Time) id.ID {
		nodes := make([]*tree.Node, benchGroups)
		for g := range nodes {
			nodes[g] = folder(fmt.Sprintf("g%02d", g), groupIDs[g], mt)
		}
		return chain(must(s.SaveTree(nodes)), mt, "bench", "data")
	}
	for g := range leaves {
		for d := range leaves[g] {
			saveLeaf(g, d)
		}
		saveGroup(g, t0)
	}
	snap := func(tid id.ID, at time.Time, source string, paths ...string) *repo.Snapshot {
		return &repo.Snapshot{Time: at, Tree: tid, Paths: paths, Host: "bench", Source: source, Tags: []string{}, Username: "alice", UID: 1000, GID: 1000}
	}
	snaps := []*repo.Snapshot{snap(root(t0), t0, "tree", "/bench/data")}

	// The others, each a few files apart from the one before.
	rng := rand.New(rand.NewSource(1))
	for i := 1; i < benchSnaps; i++ {
		at := t0.Add(time.Duration(i) * time.Hour)
		dirty := map[[2]int]bool{}
		for k := 0; k < benchChanges; k++ {
			g, d, f := rng.Intn(benchGroups), rng.Intn(benchDirs), rng.Intn(benchFiles)
			leaves[g][d][f] = file(leaves[g][d][f].Name, blob(), at)
			dirty[[2]int{g, d}] = true
		}
		if i%100 == 0 {
			leaves[3][42][benchFiles] = file("needle.txt", blob(), at)
			dirty[[2]int{3, 42}] = true
		}
		groups := map[int]bool{}
		for gd := range dirty {
			saveLeaf(gd[0], gd[1])
			groups[gd[0]] = true
		}
		for g := range groups {
			saveGroup(g, at)
		}
		snaps = append(snaps, snap(root(at), at, "tree", "/bench/data"))
	}

	// The flat folder.
	flat := make([]*tree.Node, benchFlat)
	for i := range flat {
		flat[i] = file(fmt.Sprintf("m%06d.eml", i), pool[i%len(pool)], t0)
	}
	at := t0.Add(benchSnaps * time.Hour)
	snaps = append(snaps, snap(chain(must(s.SaveTree(flat)), at, "flat", "big"), at, "flat", "/flat/big"))

	if err := s.Flush(); err != nil {
		tb.Fatal(err)
	}
	for _, sn := range snaps {
		if err := r.SaveSnapshot(ctx, sn); err != nil {
			tb.Fatal(err)
		}
	}
}

func benchOptions(dir string) repo.Options {
	return repo.Options{Password: []byte(repo.TestPassword), CacheDir: dir + ".cache", KDF: &repo.TestKDF}
}

// benchRepo opens the benchmark repository, making it first if needed.
func benchRepo(b *testing.B) *repo.Repository {
	b.Helper()
	dir := os.Getenv(benchRepoEnv)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cairn-bench-browse-v1", "repo")
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err != nil {
		os.RemoveAll(dir)
		os.RemoveAll(dir + ".cache")
		b.Logf("generating %s", dir)
		generateBrowseRepo(b, dir)
	}
	be, err := local.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.Open(context.Background(), be, benchOptions(dir))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func benchSnapshots(b *testing.B, r *repo.Repository, source string) []*repo.Snapshot {
	all, err := r.Snapshots(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	var out []*repo.Snapshot
	for _, sn := range all {
		if sn.Source == source {
			out = append(out, sn)
		}
	}
	return out
}

// (a) Listing every snapshot, as the browser's first screen does.
func BenchmarkBrowseSnapshots(b *testing.B) {
	r := benchRepo(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		all, err := r.Snapshots(ctx, nil)
		if err != nil || len(all) != benchSnaps+1 {
			b.Fatalf("%d snapshots, %v", len(all), err)
		}
	}
}

// (b) Listing one folder of 100,000 entries.
func BenchmarkBrowseListFlat(b *testing.B) {
	r := benchRepo(b)
	ctx := context.Background()
	sn := benchSnapshots(b, r, "flat")[0]
	n, _, err := restore.Find(ctx, r, sn, "/flat/big")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		nodes, err := r.LoadTree(ctx, n.Subtree)
		if err != nil || len(nodes) != benchFlat {
			b.Fatalf("%d entries, %v", len(nodes), err)
		}
	}
}

// (c) Finding one file name across 1,000 snapshots.
func BenchmarkBrowseFind(b *testing.B) {
	r := benchRepo(b)
	snaps := benchSnapshots(b, r, "tree")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var hits int
		err := search.Find(context.Background(), r, snaps, "needle.txt", search.FindOptions{}, func(res search.Result) error {
			hits += len(res.Hits)
			return nil
		})
		if err != nil || hits != benchSnaps {
			b.Fatalf("%d hits, %v", hits, err)
		}
	}
}

// The versions of one file through 1,000 snapshots.
func BenchmarkBrowseVersions(b *testing.B) {
	r := benchRepo(b)
	snaps := benchSnapshots(b, r, "tree")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vs, err := search.Versions(context.Background(), r, snaps, benchNeedle)
		if err != nil || len(vs) != benchSnaps/100 {
			b.Fatalf("%d versions, %v", len(vs), err)
		}
	}
}

// The first snapshot against the last: about 5,000 files changed.
func BenchmarkBrowseDiff(b *testing.B) {
	r := benchRepo(b)
	snaps := benchSnapshots(b, r, "tree")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sum, err := diff.Snapshots(context.Background(), r, snaps[0], snaps[len(snaps)-1], "", "", diff.Options{}, nil)
		if err != nil || sum.Modified == 0 {
			b.Fatalf("%+v, %v", sum, err)
		}
	}
}
