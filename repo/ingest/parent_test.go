package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

func run(t *testing.T, r *repo.Repository, opt ingest.Options) *ingest.Result {
	t.Helper()
	res, err := ingest.Run(context.Background(), r, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// contentOf restores path from sn and returns its bytes.
func contentOf(t *testing.T, r *repo.Repository, sn *repo.Snapshot, path string) string {
	t.Helper()
	dst := t.TempDir()
	if _, err := restore.Run(context.Background(), r, sn, path, restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dst, filepath.Base(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replace gives path new content as a new file (a new inode and ctime),
// with mtime mt: what rsync or cp -a does when it restores a file.
func replace(t *testing.T, path, content string, mt time.Time) {
	t.Helper()
	tmp := path + ".new"
	write(t, tmp, content)
	if err := os.Chtimes(tmp, mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func snapshotCount(t *testing.T, r *repo.Repository) int {
	t.Helper()
	all, err := r.Snapshots(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// fixedMtime is the mtime twoVersions gives both versions of its file.
var fixedMtime = time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)

// twoVersions ingests a folder holding a file f with "one", then writes
// "two" into f, the same size with the mtime put back, so that only the
// ctime tells; it returns the repository, f, the ingest's options and the
// first snapshot.
func twoVersions(t *testing.T) (*repo.Repository, string, ingest.Options, *repo.Snapshot) {
	t.Helper()
	r := repo.TestRepository(t)
	src := t.TempDir()
	f := filepath.Join(src, "f")
	write(t, f, "one")
	os.Chtimes(f, fixedMtime, fixedMtime)
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}
	s1 := run(t, r, opt).Snapshot
	time.Sleep(10 * time.Millisecond) // ctime granularity
	write(t, f, "two")
	os.Chtimes(f, fixedMtime, fixedMtime)
	return r, f, opt, s1
}

// A chosen parent, not the file-change cache (which describes the last
// ingest), says whether a file changed: a file the cache vouches for but
// that differs from what the parent recorded is read again.
func TestParentChosenOverCache(t *testing.T) {
	r, f, opt, s1 := twoVersions(t)
	run(t, r, opt) // the cache now records f as it is

	popt := opt
	popt.Parent = s1.ID.String()[:8]
	res := run(t, r, popt)
	if s := res.Snapshot.Summary; s.FilesChanged != 1 || s.FilesUnchanged != 0 {
		t.Fatalf("summary %+v: f differs from the chosen parent and must be read", s)
	}
	if p := res.Snapshot.Parent; p == nil || *p != s1.ID {
		t.Fatalf("parent %v, want %s", p, s1.ID)
	}
	if got := contentOf(t, r, res.Snapshot, f); got != "two" {
		t.Fatalf("restored %q", got)
	}
	// What this ingest saw is the cache of the next.
	if s := run(t, r, opt).Snapshot.Summary; s.FilesUnchanged != 1 {
		t.Fatalf("summary %+v: the next ingest must find f unchanged", s)
	}
}

// The hazard of trusting the cache with a chosen parent: after a disk is
// replaced and an older snapshot restored onto it (new inodes, the old
// mtimes), the cache of the last ingest would vouch for a file by its size
// and mtime with --ignore-inode, and take the later content it recorded.
// Compared with the chosen parent, the file takes the parent's content,
// which is what the disk holds.
func TestParentAfterRestoreOfOlderSnapshot(t *testing.T) {
	r, f, opt, s1 := twoVersions(t)
	if s := run(t, r, opt).Snapshot.Summary; s.FilesChanged != 1 {
		t.Fatalf("summary %+v", s)
	}
	replace(t, f, "one", fixedMtime) // s1 restored

	popt := opt
	popt.Parent, popt.IgnoreInode = s1.ID.String(), true
	res := run(t, r, popt)
	if s := res.Snapshot.Summary; s.FilesUnchanged != 1 {
		t.Fatalf("summary %+v: f matches the parent's size and mtime", s)
	}
	if got := contentOf(t, r, res.Snapshot, f); got != "one" {
		t.Fatalf("snapshot holds %q, the disk holds \"one\"", got)
	}
}

// A chosen parent spares reading files that no file-change cache knows: a
// new cache folder, another host name.
func TestParentWithoutCache(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), "some data")
	r1 := repo.TestRepository(t)
	s1 := run(t, r1, ingest.Options{Paths: []string{src}, Host: "old", Source: "s"}).Snapshot
	r2, err := repo.Open(ctx, r1.Backend(), repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res := run(t, r2, ingest.Options{Paths: []string{src}, Host: "new", Source: "s", Parent: s1.ID.String()})
	if s := res.Snapshot.Summary; s.FilesUnchanged != 1 || s.FilesNew != 0 || s.DataBlobs != 0 {
		t.Fatalf("summary %+v: the file is unchanged from the parent", s)
	}
	if res.Snapshot.Host != "new" || *res.Snapshot.Parent != s1.ID {
		t.Fatalf("host %s parent %s", res.Snapshot.Host, res.Snapshot.Parent)
	}
}

// A parent that is not there stops the ingest before it writes anything.
func TestParentNotFound(t *testing.T) {
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), "x")
	for _, sel := range []string{"deadbeef", "latest"} {
		_, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s", Parent: sel})
		if !errors.Is(err, repo.ErrNotFound) {
			t.Fatalf("--parent %s: %v, want not found", sel, err)
		}
	}
	if n := snapshotCount(t, r); n != 0 {
		t.Fatalf("%d snapshots written", n)
	}
}

// --ignore-inode takes a file copied anew (new inode and ctime, same size
// and mtime) as unchanged; without it, or with --ignore-ctime alone, it is
// read again. --ignore-ctime takes a file whose ctime alone moved as
// unchanged, but reads its extended attributes again. Either way the
// cache then records what the files are now.
func TestIgnoreInodeAndCtime(t *testing.T) {
	r := repo.TestRepository(t)
	src := t.TempDir()
	files := []string{filepath.Join(src, "a"), filepath.Join(src, "sub", "b")}
	mt := time.Date(2021, 5, 6, 7, 8, 9, 10, time.UTC)
	for _, f := range files {
		write(t, f, "content of "+f)
		os.Chtimes(f, mt, mt)
	}
	copyAll := func() {
		time.Sleep(10 * time.Millisecond)
		for _, f := range files {
			replace(t, f, "content of "+f, mt)
		}
	}
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}
	run(t, r, opt)
	check := func(what string, o ingest.Options, unchanged int64) {
		t.Helper()
		s := run(t, r, o).Snapshot.Summary
		if s.FilesUnchanged != unchanged || s.FilesChanged != 2-unchanged {
			t.Fatalf("%s: summary %+v, want %d of 2 unchanged", what, s, unchanged)
		}
	}
	ignoreInode, ignoreCtime := opt, opt
	ignoreInode.IgnoreInode, ignoreCtime.IgnoreCtime = true, true

	copyAll()
	check("--ignore-inode after a copy", ignoreInode, 2)
	check("plain after --ignore-inode", opt, 2)
	copyAll()
	check("--ignore-ctime after a copy", ignoreCtime, 0)
	copyAll()
	check("plain after a copy", opt, 0)

	time.Sleep(10 * time.Millisecond)
	f := files[0]
	if err := syscall.Setxattr(f, "user.color", []byte("blue"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	res := run(t, r, ignoreCtime)
	if s := res.Snapshot.Summary; s.FilesUnchanged != 2 {
		t.Fatalf("--ignore-ctime after setxattr: summary %+v", s)
	}
	n, _, err := restore.Find(context.Background(), r, res.Snapshot, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Xattrs) != 1 || string(n.Xattrs[0].Value) != "blue" {
		t.Fatalf("xattrs %q: a moved ctime no longer vouches for them", n.Xattrs)
	}
	check("plain after --ignore-ctime", opt, 2)
}

// --skip-if-unchanged writes no snapshot when the tree and paths are the
// parent's, and one as soon as anything differs.
func TestSkipIfUnchanged(t *testing.T) {
	// The folders above src are in the tree too, with their times: the
	// pack files this repository (in memory) writes go to TMPDIR, kept
	// off src's way, or each ingest would change /tmp for the next.
	t.Setenv("TMPDIR", t.TempDir())
	r := repo.TestRepository(t)
	above := filepath.Join(t.TempDir(), "above")
	src := filepath.Join(above, "src")
	write(t, filepath.Join(src, "a"), "a")
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s", SkipIfUnchanged: true}
	first := run(t, r, opt)
	if first.Skipped || first.Snapshot.ID.IsZero() {
		t.Fatal("without a parent the snapshot must be written")
	}
	// The folders above src are in the tree too, with their times, but
	// were not asked for: a change to them (a file made in /tmp by some
	// other process) is not a change to keep, in a real run or a dry one.
	write(t, filepath.Join(above, "elsewhere"), "x")
	res := run(t, r, opt)
	if !res.Skipped {
		t.Fatal("nothing changed in src, and a snapshot was written")
	}
	n := snapshotCount(t, r)
	if !res.Snapshot.ID.IsZero() || *res.Snapshot.Parent != first.Snapshot.ID {
		t.Fatalf("skipped: snapshot %s parent %s, want parent %s", res.Snapshot.ID, res.Snapshot.Parent, first.Snapshot.ID)
	}
	dry := opt
	dry.DryRun = true
	write(t, filepath.Join(above, "elsewhere2"), "x")
	if !run(t, r, dry).Skipped {
		t.Error("a dry run does not say the snapshot would be skipped")
	}
	if got := snapshotCount(t, r); got != n {
		t.Fatalf("%d snapshots after skipped runs, want %d", got, n)
	}

	// Reading a file and listing its folder move their access times
	// (under relatime, once the atime is older than the mtime), and
	// nothing else: still nothing to keep.
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 5 {
		for _, p := range []string{filepath.Join(src, "a"), src} {
			if err := os.Chtimes(p, old, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if res = run(t, r, opt); res.Skipped {
			t.Fatal("older access times and newer ctimes, and no snapshot")
		}
		if _, err := os.ReadFile(filepath.Join(src, "a")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.ReadDir(src); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(src, "a"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Atim.Sec == old.Unix() {
			t.Skip("reading moves no access time here (noatime): the rest tests nothing")
		}
		if res = run(t, r, opt); res.Skipped {
			break
		}
	}
	if !res.Skipped {
		t.Fatal("only access times moved, and a snapshot was written each time")
	}
	n = snapshotCount(t, r)

	write(t, filepath.Join(src, "b"), "b")
	if res := run(t, r, opt); res.Skipped || res.Snapshot.ID.IsZero() {
		t.Fatal("a new file, and no snapshot")
	}
	other := t.TempDir()
	more := opt
	more.Paths = append(more.Paths, other)
	if res := run(t, r, more); res.Skipped {
		t.Fatal("other paths, and no snapshot")
	}
	if got := snapshotCount(t, r); got != n+2 {
		t.Fatalf("%d snapshots, want %d", got, n+2)
	}
}

// ingestTwoFiles ingests a folder holding a and d/b into a repository in
// memory, and returns the store, the folder, the options and the names of
// the tree packs.
func ingestTwoFiles(t *testing.T) (*mem.Mem, string, ingest.Options, []string) {
	t.Helper()
	store := mem.New()
	r := repo.TestRepositoryOn(t, store)
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), "some data")
	write(t, filepath.Join(src, "d", "b"), "more data")
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}
	run(t, r, opt)
	var trees []string
	store.List(context.Background(), "tree/", func(fi backends.Info) error { trees = append(trees, fi.Name); return nil })
	if len(trees) == 0 {
		t.Fatal("no tree packs")
	}
	return store, src, opt, trees
}

// With a fresh cache folder and the parent snapshot's tree packs lost, the
// ingest still succeeds, reading every file again; what it saw is then
// the cache of the next ingest, which reads nothing.
func TestFreshCacheParentTreesLost(t *testing.T) {
	ctx := context.Background()
	store, src, opt, trees := ingestTwoFiles(t)
	for _, n := range trees {
		if err := store.Remove(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	for i, want := range []string{"new", "unchanged"} {
		r, err := repo.Open(ctx, store, repo.Options{Password: []byte(repo.TestPassword), CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, r, opt)
		s := res.Snapshot.Summary
		if want == "new" && s.FilesNew != 2 || want == "unchanged" && s.FilesUnchanged != 2 {
			t.Fatalf("ingest %d: summary %+v: files should be %s", i, s, want)
		}
		if got := contentOf(t, r, res.Snapshot, filepath.Join(src, "d", "b")); got != "more data" {
			t.Fatalf("ingest %d restores %q", i, got)
		}
		r.Close()
	}
}

// With a fresh cache folder and the parent snapshot's tree packs corrupt,
// the ingest reads every file again and stores the damaged trees anew
// instead of letting the new snapshot rely on them: it reads back whole,
// even through an index rebuilt from the repository.
func TestFreshCacheParentTreesDamaged(t *testing.T) {
	ctx := context.Background()
	store, src, opt, trees := ingestTwoFiles(t)
	for _, n := range trees {
		b, err := store.Load(ctx, n, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] ^= 0x55 // every blob, header and trailer
		}
		if err := store.Remove(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := store.Save(ctx, n, b); err != nil {
			t.Fatal(err)
		}
	}
	r, err := repo.Open(ctx, store, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, r, opt)
	r.Close()
	if s := res.Snapshot.Summary; s.FilesNew != 2 || s.TreeBlobs == 0 {
		t.Fatalf("summary %+v: files should be read again and the damaged trees stored again", s)
	}
	r2, err := repo.Open(ctx, store, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := contentOf(t, r2, res.Snapshot, filepath.Join(src, "d", "b")); got != "more data" {
		t.Fatalf("the new snapshot restores %q", got)
	}
}

// As in restic, the parent is the newest snapshot not dated after the
// new one: an old backup imported with a time in the past is not skipped
// as unchanged from a later snapshot, nor compared with one dated in the
// future by a skewed clock.
func TestParentNotAfterSnapshotTime(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), "a")
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s", SkipIfUnchanged: true}
	now := run(t, r, opt).Snapshot
	future := opt
	future.Time = time.Now().AddDate(3, 0, 0)
	future.SkipIfUnchanged = false
	fut := run(t, r, future).Snapshot

	old := opt
	old.Time = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	res := run(t, r, old)
	if res.Skipped || res.Snapshot.Parent != nil {
		t.Fatalf("a snapshot dated 2020: skipped %v, parent %v; want saved, with no parent", res.Skipped, res.Snapshot.Parent)
	}
	opt.SkipIfUnchanged = false
	res = run(t, r, opt)
	if p := res.Snapshot.Parent; p == nil || *p != now.ID {
		t.Fatalf("parent %v, want %s (not %s, dated in the future)", p, now.ID, fut.ID)
	}
}

// --skip-if-unchanged writes a snapshot when only the hardlink counts it
// lists differ from the parent's: a parent written before 625ca2c lacks
// the count of a group seen through a bind mount, and skipping kept it as
// the latest snapshot, whose mount showed nlink 2 for a group of 4 names.
func TestSkipIfUnchangedLinkCountsDiffer(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	a := filepath.Join(src, "a")
	os.WriteFile(a, []byte("shared"), 0o644)
	if err := os.Link(a, filepath.Join(src, "b")); err != nil {
		t.Fatal(err)
	}
	r := repo.TestRepository(t)
	// Only a: a group of one name in the snapshot, listed in Links.
	opt := ingest.Options{Paths: []string{a}, Host: "h", SkipIfUnchanged: true}
	first := run(t, r, opt)
	if len(first.Snapshot.Links) != 1 {
		t.Fatalf("snapshot links %+v, want one group", first.Snapshot.Links)
	}
	opt.Parent = first.Snapshot.ID.String()
	if res := run(t, r, opt); !res.Skipped {
		t.Fatalf("an unchanged ingest with the same link counts was saved")
	}
	older := *first.Snapshot
	older.Links = nil
	if err := r.SaveSnapshot(ctx, &older); err != nil {
		t.Fatal(err)
	}
	opt.Parent = older.ID.String()
	res := run(t, r, opt)
	if res.Skipped {
		t.Fatalf("skipped though the parent lists no link count and the new snapshot lists %+v", res.Snapshot.Links)
	}
}
