package rewrite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/rewrite"
	"github.com/cairn-backup/cairn/repo/tree"
)

var ctx = context.Background()

// writeTree writes files (path relative to dir -> content) and the
// hardlinks (new name -> existing name) under dir.
func writeTree(t *testing.T, dir string, files map[string]string, links map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, old := range links {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(dir, old), p); err != nil {
			t.Fatal(err)
		}
	}
}

// source is a tree with something for every kind of pattern: files to
// match by extension, nested folders, hardlinks across folders, names in
// several cases.
func source(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "src")
	writeTree(t, dir, map[string]string{
		"a.txt":              "a",
		"b.tmp":              "temporary",
		"keep.tmp":           "kept by a ! pattern",
		"Secret.KEY":         "hunter2",
		"docs/x.txt":         "x",
		"docs/cache/c1":      "cached",
		"docs/cache/sub/c2":  "cached deeper",
		"deep/d/z.bin":       "binary",
		"deep/d/z.txt":       "text",
		"logs/x.log":         "log",
		"logs/other.log":     "other log",
		"links/one":          "three names, one inode",
		"other/p.tmp":        "temporary too",
		"other/nested/q.txt": "q",
	}, map[string]string{"links/two": "links/one", "docs/three": "links/one"})
	return dir
}

func ingestAt(t *testing.T, r *repo.Repository, paths []string, tm time.Time, ex, iex []string) *repo.Snapshot {
	t.Helper()
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: paths, Host: "h", Time: tm, Excludes: ex, IExcludes: iex,
		Warn: func(p string, err error) { t.Errorf("ingest %s: %v", p, err) }})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return res.Snapshot
}

// listing is every path in the snapshot's tree, with its kind.
func listing(t *testing.T, r *repo.Repository, sn *repo.Snapshot) []string {
	t.Helper()
	var out []string
	err := r.Walk(ctx, sn, func(p string, n *tree.Node) (bool, error) {
		out = append(out, "/"+p+" "+n.Kind.String())
		return true, nil
	}, nil)
	if err != nil {
		t.Fatalf("walk %s: %v", sn.ID.Short(), err)
	}
	return out
}

func objects(t *testing.T, be backends.Backend, prefix string) []string {
	t.Helper()
	var out []string
	if err := be.List(ctx, prefix, func(fi backends.Info) error {
		out = append(out, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestSameAsIngest rewrites snapshots taken without patterns and compares
// them with snapshots of the same files taken with the patterns: the same
// paths, the same hardlink counts, the same totals. Each case rewrites two
// snapshots of the same files in one run, so the second one is built from
// what the first one's rewrite remembered.
func TestSameAsIngest(t *testing.T) {
	src := source(t)
	abs := func(rel string) string { return filepath.Join(src, rel) }
	layouts := []struct {
		name  string
		paths []string
	}{
		{"one folder", []string{src}},
		{"two folders", []string{abs("docs"), abs("links")}},
		{"a file inside a folder that may be excluded", []string{src, abs("logs/x.log"), abs("docs/cache/sub")}},
		{"a file given alone", []string{abs("b.tmp"), abs("other")}},
	}
	patterns := []struct {
		name    string
		ex, iex []string
	}{
		{"extension", []string{"*.tmp"}, nil},
		{"negation", []string{"*.tmp", "!keep.tmp"}, nil},
		{"folder and double star", []string{"logs", "**/d/*.bin"}, nil},
		{"a folder above a given path", []string{"docs"}, nil},
		{"anchored", []string{abs("docs/cache"), "/nowhere"}, nil},
		{"several components", []string{"cache/sub"}, nil},
		{"hardlinks", []string{"two", "three"}, nil},
		{"every name of a hardlink group", []string{"two", "three", "links/one"}, nil},
		{"regardless of case", nil, []string{"*.key", "DOCS/X.TXT"}},
		{"both", []string{"nested"}, []string{"LOGS"}},
		{"the given folder itself", []string{"src", "other"}, nil},
		{"nothing matches", []string{"*.none"}, nil},
	}
	for _, l := range layouts {
		for _, p := range patterns {
			t.Run(l.name+"/"+p.name, func(t *testing.T) {
				r := repo.TestRepository(t)
				t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
				olds := []*repo.Snapshot{ingestAt(t, r, l.paths, t0, nil, nil), ingestAt(t, r, l.paths, t0.Add(time.Hour), nil, nil)}
				want := ingestAt(t, r, l.paths, t0.Add(2*time.Hour), p.ex, p.iex)
				wantList := listing(t, r, want)
				results, err := rewrite.Run(ctx, r, olds, rewrite.Options{Excludes: p.ex, IExcludes: p.iex})
				if err != nil {
					t.Fatal(err)
				}
				if len(results) != 2 {
					t.Fatalf("%d results for 2 snapshots", len(results))
				}
				for i, res := range results {
					got := res.New
					if got == nil {
						got = olds[i]
						if !slices.Equal(listing(t, r, olds[i]), wantList) {
							t.Errorf("snapshot %d unchanged, but ingest with the patterns leaves out more", i)
						}
						if len(res.Removed) > 0 {
							t.Errorf("snapshot %d unchanged, yet removed %v", i, res.Removed)
						}
						continue
					}
					if gotList := listing(t, r, got); !slices.Equal(gotList, wantList) {
						t.Errorf("snapshot %d rewritten holds\n%s\ningest with the patterns holds\n%s", i, strings.Join(gotList, "\n"), strings.Join(wantList, "\n"))
					}
					if !slices.Equal(got.Links, want.Links) {
						t.Errorf("snapshot %d rewritten: links %+v, ingest with the patterns: %+v", i, got.Links, want.Links)
					}
					gs, ws := got.Summary, want.Summary
					if gs.TotalFiles != ws.TotalFiles || gs.TotalBytes != ws.TotalBytes || gs.TotalEntries != ws.TotalEntries {
						t.Errorf("snapshot %d rewritten: totals %d files, %d bytes, %d entries; ingest with the patterns: %d, %d, %d",
							i, gs.TotalFiles, gs.TotalBytes, gs.TotalEntries, ws.TotalFiles, ws.TotalBytes, ws.TotalEntries)
					}
					// What is reported removed is exactly what is gone.
					oldList := listing(t, r, olds[i])
					var gone []string
					for _, e := range oldList {
						if !slices.Contains(wantList, e) {
							gone = append(gone, e)
						}
					}
					var reported []string
					for _, rm := range res.Removed {
						for _, e := range oldList {
							if e == rm.Path+" "+rm.Kind.String() || strings.HasPrefix(e, rm.Path+"/") {
								reported = append(reported, e)
							}
						}
					}
					slices.Sort(reported)
					if !slices.Equal(reported, gone) {
						t.Errorf("snapshot %d: reported removed %v, gone %v", i, reported, gone)
					}
					entries, _, _ := res.Totals()
					if int(entries) != len(gone) {
						t.Errorf("snapshot %d: %d entries reported removed, %d gone", i, entries, len(gone))
					}
				}
				if !slices.EqualFunc(results[0].Removed, results[1].Removed, func(a, b rewrite.Removed) bool { return a == b }) {
					t.Errorf("two snapshots of the same files: removed %v and %v", results[0].Removed, results[1].Removed)
				}
			})
		}
	}
}

// TestSpared: a path given to ingest is never removed, but reported when a
// pattern matches it.
func TestSpared(t *testing.T) {
	src := source(t)
	r := repo.TestRepository(t)
	sn := ingestAt(t, r, []string{filepath.Join(src, "b.tmp"), filepath.Join(src, "docs")}, time.Now(), nil, nil)
	results, err := rewrite.Run(ctx, r, []*repo.Snapshot{sn}, rewrite.Options{Excludes: []string{"*.tmp", "docs", "cache"}})
	if err != nil {
		t.Fatal(err)
	}
	res := results[0]
	want := []string{filepath.Join(src, "b.tmp"), filepath.Join(src, "docs")}
	if !slices.Equal(res.Spared, want) {
		t.Errorf("spared %v, want %v", res.Spared, want)
	}
	if len(res.Removed) != 1 || res.Removed[0].Path != filepath.Join(src, "docs/cache") || res.Removed[0].Entries != 4 || res.Removed[0].Files != 2 {
		t.Errorf("removed %+v, want docs/cache with 4 entries, 2 files", res.Removed)
	}
}

// TestSnapshotFields: the new snapshot keeps the old one's fields, names
// it as its original, carries the tag, and is stored after its trees;
// the old one stays. With Forget the old one goes and the tag is not
// added; an original named before is kept; snapshots where nothing
// matches are left alone.
func TestSnapshotFields(t *testing.T) {
	src := source(t)
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s", Tags: []string{"daily"}, Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	old := res.Snapshot
	other, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{filepath.Join(src, "other")}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	dataBefore := objects(t, r.Backend(), "data/")
	var reported []*rewrite.Result
	results, err := rewrite.Run(ctx, r, []*repo.Snapshot{old, other.Snapshot}, rewrite.Options{Excludes: []string{"Secret.KEY", "logs"},
		Report: func(res *rewrite.Result) { reported = append(reported, res) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(reported) != 2 || reported[0] != results[0] || reported[1] != results[1] {
		t.Fatalf("reported %v, returned %v", reported, results)
	}
	if results[1].New != nil {
		t.Errorf("nothing matches in %v, yet it was rewritten", other.Snapshot.Paths)
	}
	nsn := results[0].New
	if nsn == nil || nsn.ID.IsZero() {
		t.Fatal("no new snapshot stored")
	}
	if got := objects(t, r.Backend(), "data/"); !slices.Equal(got, dataBefore) {
		t.Errorf("the rewrite stored data packs: %v, before %v", got, dataBefore)
	}
	stored, err := r.LoadSnapshot(ctx, nsn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Time.Equal(old.Time) || stored.Host != "h" || stored.Source != "s" || !slices.Equal(stored.Paths, old.Paths) ||
		!slices.Equal(stored.Tags, []string{"daily", rewrite.Tag}) || stored.Original == nil || *stored.Original != old.ID ||
		!slices.Equal(stored.Root, old.Root) || stored.Summary.FilesNew != old.Summary.FilesNew || stored.Summary.Rewritten == nil {
		t.Errorf("stored rewrite %+v\nof %+v", stored, old)
	}
	if got, want := stored.Summary.TotalFiles, old.Summary.TotalFiles-3; got != want {
		t.Errorf("total files %d, want %d", got, want)
	}
	if got, want := stored.Summary.TotalBytes, old.Summary.TotalBytes-int64(len("hunter2")+len("log")+len("other log")); got != want {
		t.Errorf("total bytes %d, want %d", got, want)
	}
	for _, p := range listing(t, r, stored) {
		if strings.Contains(p, "Secret.KEY") || strings.Contains(p, "/logs") {
			t.Errorf("%s is still in the rewritten snapshot", p)
		}
	}
	all, err := r.Snapshots(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d snapshots, want the 2 old ones and the new one", len(all))
	}
	if !slices.Contains(listing(t, r, old), filepath.Join(src, "Secret.KEY")+" file") {
		t.Error("the old snapshot lost its file")
	}

	// Rewriting the rewrite with the same patterns changes nothing.
	again, err := rewrite.Run(ctx, r, []*repo.Snapshot{stored}, rewrite.Options{Excludes: []string{"Secret.KEY", "logs"}})
	if err != nil || again[0].New != nil {
		t.Fatalf("second rewrite: %v, new %v", err, again[0].New)
	}

	// With Forget: the rewrite of the rewrite keeps the first original,
	// adds no tag (it is there already), and forgets what it rewrote.
	results, err = rewrite.Run(ctx, r, []*repo.Snapshot{stored}, rewrite.Options{Excludes: []string{"a.txt"}, Forget: true})
	if err != nil {
		t.Fatal(err)
	}
	third := results[0].New
	if !results[0].Forgotten || third.Original == nil || *third.Original != old.ID || !slices.Equal(third.Tags, []string{"daily", rewrite.Tag}) {
		t.Errorf("forgotten %v, original %v, tags %v", results[0].Forgotten, third.Original, third.Tags)
	}
	if _, err := r.LoadSnapshot(ctx, stored.ID); err == nil {
		t.Error("the rewritten snapshot was not forgotten")
	}
	// Forget on a snapshot never rewritten: no tag.
	results, err = rewrite.Run(ctx, r, []*repo.Snapshot{old}, rewrite.Options{Excludes: []string{"a.txt"}, Forget: true})
	if err != nil {
		t.Fatal(err)
	}
	if tags := results[0].New.Tags; !slices.Equal(tags, []string{"daily"}) {
		t.Errorf("tags %v after a rewrite that forgot its original", tags)
	}
}

// TestDryRun stores nothing and reports what a real run removes.
func TestDryRun(t *testing.T) {
	src := source(t)
	r := repo.TestRepository(t)
	sn := ingestAt(t, r, []string{src}, time.Now(), nil, nil)
	before := objects(t, r.Backend(), "")
	opt := rewrite.Options{Excludes: []string{"*.tmp", "cache"}, DryRun: true, Forget: true}
	dry, err := rewrite.Run(ctx, r, []*repo.Snapshot{sn}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if after := objects(t, r.Backend(), ""); !slices.Equal(after, before) {
		t.Errorf("a dry run changed the repository:\n%v\nbefore\n%v", after, before)
	}
	if dry[0].New == nil || !dry[0].New.ID.IsZero() || dry[0].Forgotten {
		t.Fatalf("dry run: new %+v, forgotten %v", dry[0].New, dry[0].Forgotten)
	}
	opt.DryRun = false
	real, err := rewrite.Run(ctx, r, []*repo.Snapshot{sn}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dry[0].Removed) != fmt.Sprint(real[0].Removed) || dry[0].New.Tree != real[0].New.Tree {
		t.Errorf("dry run removed %v (tree %s), the real run %v (tree %s)", dry[0].Removed, dry[0].New.Tree.Short(), real[0].Removed, real[0].New.Tree.Short())
	}
	if len(dry[0].Removed) != 4 { // b.tmp, docs/cache, keep.tmp, other/p.tmp
		t.Errorf("removed %v", dry[0].Removed)
	}
}

// TestLinks: a hardlink group that loses names inside the snapshot gets
// the number it keeps; one that loses all of them is no longer listed;
// others keep their entry.
func TestLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "src")
	writeTree(t, dir, map[string]string{"in/trio": "3", "in/pair": "2", "out/quad": "4"},
		map[string]string{"in/trio2": "in/trio", "in/sub/trio3": "in/trio", "in/pair2": "in/pair",
			"in/quad2": "out/quad", "in/quad3": "out/quad", "in/sub/quad4": "out/quad"})
	r := repo.TestRepository(t)
	// Only "in" is ingested: quad has 3 of its 4 names inside.
	sn := ingestAt(t, r, []string{filepath.Join(dir, "in")}, time.Now(), nil, nil)
	counts := func(sn *repo.Snapshot) map[string]uint32 {
		out := map[string]uint32{}
		for _, l := range sn.Links {
			for _, name := range []string{"in/trio", "in/pair", "out/quad"} {
				if l.Inode == inodeOf(t, filepath.Join(dir, name)) {
					out[name] = l.Count
				}
			}
		}
		return out
	}
	if got := counts(sn); len(got) != 1 || got["out/quad"] != 3 {
		t.Fatalf("ingest links %v, want out/quad 3", got)
	}
	for _, c := range []struct {
		ex   []string
		want map[string]uint32
	}{
		{[]string{"trio2"}, map[string]uint32{"in/trio": 2, "out/quad": 3}},
		{[]string{"sub"}, map[string]uint32{"in/trio": 2, "out/quad": 2}},
		{[]string{"pair2", "quad2", "quad3", "sub"}, map[string]uint32{"in/pair": 1, "in/trio": 2}},
		{[]string{"pair", "pair2"}, map[string]uint32{"out/quad": 3}},
	} {
		results, err := rewrite.Run(ctx, r, []*repo.Snapshot{sn}, rewrite.Options{Excludes: c.ex, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := counts(results[0].New); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("excluding %v: links %v, want %v", c.ex, got, c.want)
		}
	}
}

func inodeOf(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestSameTreeElsewhere: one tree blob at two paths is rewritten for
// each path on its own. Ingest never stores such a pair (inode numbers
// differ), so the snapshot is made by hand.
func TestSameTreeElsewhere(t *testing.T) {
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	save := func(nodes ...*tree.Node) id.ID {
		tid, err := s.SaveTree(nodes)
		if err != nil {
			t.Fatal(err)
		}
		return tid
	}
	dir := func(name string, tid id.ID) *tree.Node {
		return &tree.Node{Name: name, Kind: tree.KindDir, Mode: 0o755, Subtree: tid}
	}
	x := save(&tree.Node{Name: "keep", Kind: tree.KindFile, Mode: 0o644}, &tree.Node{Name: "secret", Kind: tree.KindFile, Mode: 0o600})
	a := save(dir("x", x))
	root := save(dir("a", a), dir("b", a))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	from := id.ID{1}
	sn := &repo.Snapshot{Time: time.Now(), Tree: root, Paths: []string{"/a", "/b"}, Host: "h", Source: "s", CopiedFrom: &from}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	results, err := rewrite.Run(ctx, r, []*repo.Snapshot{sn}, rewrite.Options{Excludes: []string{"/a/x/secret"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/a dir", "/a/x dir", "/a/x/keep file", "/b dir", "/b/x dir", "/b/x/keep file", "/b/x/secret file"}
	if got := listing(t, r, results[0].New); !slices.Equal(got, want) {
		t.Errorf("rewritten:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rm := results[0].Removed; len(rm) != 1 || rm[0].Path != "/a/x/secret" {
		t.Errorf("removed %v", rm)
	}
	// A copy's tree translates its source's, position by position; the
	// rewrite's does not.
	if results[0].New.CopiedFrom != nil {
		t.Errorf("the rewrite of a copy still names the snapshot it was copied from")
	}
}

// TestBadPattern fails before anything is read.
func TestBadPattern(t *testing.T) {
	r := repo.TestRepository(t)
	if _, err := rewrite.Run(ctx, r, nil, rewrite.Options{Excludes: []string{"["}}); err == nil || !strings.Contains(err.Error(), "bad pattern") {
		t.Errorf("error %v, want a bad pattern", err)
	}
}

// TestRestoreAndCheck rewrites a snapshot of a tree holding every kind of
// entry and attribute: the rewritten snapshot restores exactly as the
// original restored without the excluded paths (bytes, modes, owners,
// times, xattrs, hardlinks, devices, holes), the original still restores
// as the source was, no data is stored, and check finds nothing wrong.
func TestRestoreAndCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (devices, ownership, trusted xattrs)")
		}
		t.Skip("needs root")
	}
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 7)
	r := repo.TestRepository(t)
	old := ingestAt(t, r, []string{src}, time.Now(), nil, nil)
	excludes := []string{
		filepath.Join(src, testtree.FileBig),     // a big file, by its absolute path
		filepath.Join(src, "links/other/deeper"), // a folder holding one name of three
		filepath.Join(src, testtree.LinkPairB),   // one name of two
		filepath.Join(src, "special"),            // devices, fifo, socket
		"sticky",                                 // anywhere
	}
	dataBefore := objects(t, r.Backend(), "data/")
	results, err := rewrite.Run(ctx, r, []*repo.Snapshot{old}, rewrite.Options{Excludes: excludes})
	if err != nil {
		t.Fatal(err)
	}
	nsn := results[0].New
	if nsn == nil {
		t.Fatal("nothing rewritten")
	}
	if got := len(results[0].Removed); got != 5 {
		t.Errorf("removed %v", results[0].Removed)
	}
	if got := objects(t, r.Backend(), "data/"); !slices.Equal(got, dataBefore) {
		t.Errorf("the rewrite stored data packs")
	}

	restoreTo := func(sn *repo.Snapshot, exclude []string) string {
		dst := t.TempDir()
		if _, err := restore.Run(ctx, r, sn, src, restore.Options{Target: dst, Exclude: exclude,
			Warn: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }}); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	opt := testtree.CompareOptions{ATime: true, Sparse: true}
	if diffs := testtree.Compare(t, src, restoreTo(old, nil), opt); len(diffs) > 0 {
		t.Errorf("the original no longer restores as the source:\n%s", strings.Join(diffs, "\n"))
	}
	got := restoreTo(nsn, nil)
	if diffs := testtree.Compare(t, restoreTo(old, excludes), got, opt); len(diffs) > 0 {
		t.Errorf("the rewrite restores otherwise than the original without the excluded paths:\n%s", strings.Join(diffs, "\n"))
	}
	for _, rel := range []string{testtree.FileBig, "links/other/deeper/trio-3", testtree.LinkPairB, "special/chardev", "modes/sticky/inside"} {
		if _, err := os.Lstat(filepath.Join(got, rel)); !os.IsNotExist(err) {
			t.Errorf("%s restored from the rewrite: %v", rel, err)
		}
		if _, err := os.Lstat(filepath.Join(src, rel)); err != nil {
			t.Errorf("%s is not in the source: %v", rel, err)
		}
	}
	// The names left of each hardlink group are one file with as many links.
	for rel, want := range map[string]uint64{testtree.LinkPairA: 1, "links/trio-1": 2, "links/other/trio-2": 2} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(got, rel), &st); err != nil || st.Nlink != want {
			t.Errorf("%s: nlink %d (%v), want %d", rel, st.Nlink, err, want)
		}
	}

	res, err := check.Run(ctx, r, check.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Notices) > 0 {
		for _, p := range append(res.Problems, res.Notices...) {
			t.Errorf("check: %s: %s", p.Kind, p.Message)
		}
	}
}

// TestRestoreDeleteKeepsWhatWasRewrittenOut: what a rewrite removed from a
// snapshot was backed up, and the source may hold its only copy; restore
// --delete in place must not delete it there as "lacking" from the
// snapshot. A folder the rewrite left whole still loses what it lacks.
func TestRestoreDeleteKeepsWhatWasRewrittenOut(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeTree(t, src, map[string]string{
		"proj/a.txt":      "a",
		"proj/big.iso":    "the only copy once the rewrite is done",
		"proj/cache/blob": "cached",
		"other/b.txt":     "b",
	}, nil)
	r := repo.TestRepository(t)
	old := ingestAt(t, r, []string{src}, time.Now(), nil, nil)
	results, err := rewrite.Run(ctx, r, []*repo.Snapshot{old}, rewrite.Options{Excludes: []string{"*.iso", "cache"}})
	if err != nil {
		t.Fatal(err)
	}
	nsn := results[0].New
	if nsn == nil {
		t.Fatal("nothing rewritten")
	}
	if err := os.WriteFile(filepath.Join(src, "other/new.txt"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(ctx, r, nsn, src, restore.Options{Target: src, Delete: true,
		Warn: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"proj/big.iso", "proj/cache/blob", "proj/a.txt", "other/b.txt"} {
		if _, err := os.Lstat(filepath.Join(src, rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(src, "other/new.txt")); !os.IsNotExist(err) {
		t.Errorf("other/new.txt, which no snapshot held, was not deleted: %v", err)
	}
}

// TestRestoreDeleteKeepsWhatWasRewrittenOutOfTheRoot: an entry removed
// from the snapshot's root folder (a snapshot of /) marks the root
// incomplete, which has no node in a tree but the snapshot's root field.
func TestRestoreDeleteKeepsWhatWasRewrittenOutOfTheRoot(t *testing.T) {
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	root, err := s.SaveTree([]*tree.Node{
		{Name: "keep", Kind: tree.KindFile, Mode: 0o644},
		{Name: "swap.img", Kind: tree.KindFile, Mode: 0o600},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: time.Now(), Tree: root, Paths: []string{"/"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	results, err := rewrite.Run(ctx, r, []*repo.Snapshot{sn}, rewrite.Options{Excludes: []string{"*.img"}})
	if err != nil {
		t.Fatal(err)
	}
	nsn := results[0].New
	if nsn == nil || !nsn.RootNode().Incomplete {
		t.Fatalf("the root the rewrite removed an entry from is not marked incomplete")
	}
	dst := t.TempDir()
	writeTree(t, dst, map[string]string{"swap.img": "only copy", "keep": ""}, nil)
	if _, err := restore.Run(ctx, r, nsn, "/", restore.Options{Target: dst, Delete: true, SkipOwner: os.Geteuid() != 0,
		Warn: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "swap.img")); err != nil {
		t.Errorf("what the rewrite removed from the root was deleted: %v", err)
	}
}
