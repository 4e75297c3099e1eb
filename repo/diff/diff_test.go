package diff_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/ingest"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// 0644 whatever the umask, so that the chmod to 0600 in after is a change.
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
}

func snap(t *testing.T, r *repo.Repository, src string, excludes ...string) *repo.Snapshot {
	t.Helper()
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s", Excludes: excludes})
	if err != nil {
		t.Fatal(err)
	}
	return res.Snapshot
}

// lines renders changes as "M /path" and collects MetaChanged fields.
type collector struct {
	lines []string
	byKey map[string]diff.Change
}

func (c *collector) emit(ch diff.Change) error {
	l := ch.Kind.Marker() + " " + ch.Path
	c.lines = append(c.lines, l)
	if c.byKey == nil {
		c.byKey = map[string]diff.Change{}
	}
	c.byKey[ch.Path] = ch
	return nil
}

// before builds the first version of a source with one entry for every
// kind of change, and many folders nothing will touch.
func before(t *testing.T, src string) {
	write(t, filepath.Join(src, "keep.txt"), "same")
	write(t, filepath.Join(src, "mod.txt"), "old content")
	write(t, filepath.Join(src, "gone.txt"), "bye")
	write(t, filepath.Join(src, "chmod.txt"), "mode")
	write(t, filepath.Join(src, "olddir/x.txt"), "x")
	write(t, filepath.Join(src, "olddir/sub/y.txt"), "y")
	write(t, filepath.Join(src, "typechg"), "a file first")
	if err := os.Symlink("keep.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		write(t, filepath.Join(src, "big", fmt.Sprintf("d%02d", i), "f.txt"), fmt.Sprint(i))
	}
}

func after(t *testing.T, src string) {
	write(t, filepath.Join(src, "mod.txt"), "new content, longer")
	os.Remove(filepath.Join(src, "gone.txt"))
	if err := os.Chmod(filepath.Join(src, "chmod.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(src, "olddir"))
	write(t, filepath.Join(src, "newdir/a/b.txt"), "b")
	os.Remove(filepath.Join(src, "typechg"))
	write(t, filepath.Join(src, "typechg/inner.txt"), "now a folder")
	os.Remove(filepath.Join(src, "link"))
	if err := os.Symlink("mod.txt", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
}

var wantChanges = []string{
	"- /gone.txt",
	"M /link",
	"M /mod.txt",
	"+ /newdir",
	"+ /newdir/a",
	"+ /newdir/a/b.txt",
	"- /olddir",
	"- /olddir/sub",
	"- /olddir/sub/y.txt",
	"- /olddir/x.txt",
	"T /typechg",
	"+ /typechg/inner.txt",
}

func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	before(t, src)
	a := snap(t, r, src)
	after(t, src)
	b := snap(t, r, src)

	var c collector
	sum, err := diff.Snapshots(ctx, r, a, b, src, src, diff.Options{}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.lines, wantChanges) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(c.lines, "\n"), strings.Join(wantChanges, "\n"))
	}
	want := diff.Summary{Added: 4, Removed: 5, Modified: 2, TypeChanged: 1,
		FilesAdded: 2, FilesRemoved: 3, FilesChanged: 1, DirsAdded: 2, DirsRemoved: 2}
	got := sum
	got.AddedBytes, got.RemovedBytes, got.GrownBytes, got.ShrunkBytes, got.TreesLoaded, got.TreesSkipped = 0, 0, 0, 0, 0, 0
	if got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
	// added: "b" (1), "now a folder" (12); removed: "bye" (3), "x", "y"
	// (1 each), "a file first" (12); mod.txt grew by 8 (see bytes_test.go)
	if sum.AddedBytes != 13 || sum.RemovedBytes != 17 || sum.GrownBytes != 8 || sum.ShrunkBytes != 0 {
		t.Errorf("bytes +%d -%d, changed +%d -%d, want +13 -17, changed +8 -0", sum.AddedBytes, sum.RemovedBytes, sum.GrownBytes, sum.ShrunkBytes)
	}
	mod := c.byKey["/mod.txt"]
	if !mod.ContentChanged || mod.SizeDelta != 8 || mod.Old == nil || mod.New == nil {
		t.Errorf("mod.txt change %+v", mod)
	}
	// The 40 untouched folders under big/ share one tree: it is skipped
	// unread, and so are the unchanged folders.
	if sum.TreesSkipped < 1 || sum.TreesLoaded > 12 {
		t.Errorf("loaded %d trees, skipped %d: the unchanged big/ should be skipped", sum.TreesLoaded, sum.TreesSkipped)
	}

	// Metadata-only changes only with Metadata.
	var cm collector
	if _, err := diff.Snapshots(ctx, r, a, b, src, src, diff.Options{Metadata: true}, cm.emit); err != nil {
		t.Fatal(err)
	}
	u := cm.byKey["/chmod.txt"]
	if u.Kind != diff.MetadataOnly || u.Kind.Marker() != "U" || !reflect.DeepEqual(u.MetaChanged, []string{"mode"}) || u.ContentChanged {
		t.Errorf("chmod.txt with --metadata: %+v", u)
	}
	if _, ok := c.byKey["/chmod.txt"]; ok {
		t.Errorf("chmod.txt reported without --metadata")
	}

	// Comparing a snapshot with itself finds nothing and reads nothing.
	var none collector
	sum, err = diff.Snapshots(ctx, r, b, b, "", "/", diff.Options{Metadata: true}, none.emit)
	if err != nil || len(none.lines) != 0 || sum.TreesLoaded != 0 {
		t.Errorf("self diff: %v %v, %d trees loaded", err, none.lines, sum.TreesLoaded)
	}

	// Whole snapshots through Trees: the same changes under the full path.
	var ct collector
	if _, err := diff.Trees(ctx, r, a.Tree, b.Tree, ct.emit); err != nil {
		t.Fatal(err)
	}
	if len(ct.lines) != len(wantChanges) || ct.lines[0] != "- "+filepath.ToSlash(src)+"/gone.txt" {
		t.Errorf("Trees: %v", ct.lines)
	}

	// A single file on each side.
	var cf collector
	if _, err := diff.Snapshots(ctx, r, a, b, src+"/mod.txt", src+"/mod.txt", diff.Options{}, cf.emit); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.lines, []string{"M /mod.txt"}) {
		t.Errorf("file diff: %v", cf.lines)
	}
}

func TestMarkers(t *testing.T) {
	for k, m := range map[diff.Kind]string{diff.Added: "+", diff.Removed: "-", diff.Modified: "M", diff.MetadataOnly: "U", diff.TypeChanged: "T"} {
		if k.Marker() != m {
			t.Errorf("%v.Marker() = %q, want %q", k, k.Marker(), m)
		}
	}
}

func TestLive(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	before(t, src)
	sn := snap(t, r, src, "*.tmp")

	var c collector
	sum, err := diff.Live(ctx, r, sn, src, src, diff.Options{Metadata: true}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.lines) != 0 {
		t.Errorf("unchanged source: %v", c.lines)
	}

	after(t, src)
	write(t, filepath.Join(src, "scratch.tmp"), "excluded") // the snapshot's excludes leave it out
	// same size, new mtime: Modified without reading the content
	mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "keep.txt"), mt, mt); err != nil {
		t.Fatal(err)
	}
	c = collector{}
	sum, err = diff.Live(ctx, r, sn, src, src, diff.Options{}, c.emit)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{wantChanges[0], "M /keep.txt"}, wantChanges[1:]...)
	if !reflect.DeepEqual(c.lines, want) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(c.lines, "\n"), strings.Join(want, "\n"))
	}
	if k := c.byKey["/keep.txt"]; !reflect.DeepEqual(k.MetaChanged, []string{"mtime"}) || k.SizeDelta != 0 {
		t.Errorf("keep.txt: %+v", k)
	}
	if sum.FilesChanged != 2 || sum.Added != 4 || sum.Removed != 5 || sum.TypeChanged != 1 {
		t.Errorf("summary %+v", sum)
	}

	// Metadata: the chmod shows, and folders whose entries changed
	// (their mtime moved), but not the excluded file.
	c = collector{}
	if _, err := diff.Live(ctx, r, sn, src, src, diff.Options{Metadata: true}, c.emit); err != nil {
		t.Fatal(err)
	}
	if ch := c.byKey["/chmod.txt"]; ch.Kind != diff.MetadataOnly {
		t.Errorf("chmod.txt: %+v", ch)
	}
	if _, ok := c.byKey["/scratch.tmp"]; ok {
		t.Errorf("excluded scratch.tmp reported")
	}

	// A live folder against a folder inside the snapshot, by another path.
	other := t.TempDir()
	write(t, filepath.Join(other, "x.txt"), "x")
	c = collector{}
	if _, err := diff.Live(ctx, r, sn, src+"/olddir", other, diff.Options{}, c.emit); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.lines, []string{"- /sub", "- /sub/y.txt", "M /x.txt"}) {
		t.Errorf("olddir against other: %v", c.lines)
	}
}
