package restore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// smallTree is a snapshot of a small folder of every common kind of entry,
// for the tests of Delete and DryRun.
type smallTree struct {
	r   *repo.Repository
	sn  *repo.Snapshot
	src string
}

var treeTime = time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)

func newSmallTree(t *testing.T) *smallTree {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	files := map[string]string{
		"a.txt":     "alpha",
		"b.txt":     "bravo",
		"keep.log":  "a log the snapshot holds",
		"d/c.txt":   "charlie",
		"d/e/f.txt": "foxtrot",
		"g/h.txt":   "hotel",
		"s/t.txt":   "tango",
		"h1":        "one inode, two names",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
	must(t, os.Mkdir(filepath.Join(src, "empty"), 0o755))
	must(t, os.Link(filepath.Join(src, "h1"), filepath.Join(src, "d", "h2")))
	must(t, os.Symlink("../a.txt", filepath.Join(src, "d", "ln")))
	// Modes set, not left to the umask; times last, folders after
	// their contents.
	var paths []string
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	slices.Reverse(paths)
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			must(t, os.Chmod(p, 0o755))
		} else if err == nil && fi.Mode().IsRegular() {
			must(t, os.Chmod(p, 0o644))
		}
		ts := []syscall.Timespec{syscall.NsecToTimespec(treeTime.UnixNano()), syscall.NsecToTimespec(treeTime.UnixNano())}
		must(t, lutimes(p, ts))
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	return &smallTree{r: r, sn: res.Snapshot, src: src}
}

func lutimes(p string, ts []syscall.Timespec) error {
	uts := []unix.Timespec{unix.Timespec(ts[0]), unix.Timespec(ts[1])}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, uts, unix.AT_SYMLINK_NOFOLLOW)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// result is one restore's outcome, as the tests compare it.
type result struct {
	st     *restore.Stats
	err    error
	items  []string // "action path", sorted
	warned []string
	notes  []string
}

func (f *smallTree) restore(t *testing.T, sub string, opt restore.Options) result {
	t.Helper()
	var mu sync.Mutex
	var res result
	opt.Workers, opt.SkipOwner = 2, os.Geteuid() != 0
	opt.Warn = func(p string, err error) { mu.Lock(); res.warned = append(res.warned, p+": "+err.Error()); mu.Unlock() }
	opt.Notice = func(p, msg string) { mu.Lock(); res.notes = append(res.notes, p+": "+msg); mu.Unlock() }
	opt.Item = func(p string, a restore.Action, size uint64) {
		mu.Lock()
		res.items = append(res.items, a.String()+" "+p)
		mu.Unlock()
	}
	if sub == "" {
		sub = f.src
	}
	res.st, res.err = restore.Run(context.Background(), f.r, f.sn, sub, opt)
	slices.Sort(res.items)
	slices.Sort(res.warned)
	return res
}

// listing describes every entry under dir, dir included, without
// following symlinks: kind and mode, size, mtime to the nanosecond,
// content hash or link target, and the inode's link count.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		// A folder's link count is the file system's business.
		nlink := fmt.Sprint(fi.Sys().(*syscall.Stat_t).Nlink)
		what := ""
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			what = fmt.Sprintf("%x", sha256.Sum256(b))[:16]
		case fi.Mode()&fs.ModeSymlink != 0:
			what, _ = os.Readlink(p)
		case fi.IsDir():
			nlink = "-"
		}
		out = append(out, fmt.Sprintf("%s %v %d %d nlink=%s %s", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano(), nlink, what))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mess changes a restored copy of smallTree every way a folder drifts
// from its snapshot, and returns how many paths Delete must remove.
// outside is a folder beside the target, which symlinks in it point to.
func mess(t *testing.T, dst, outside string) int {
	t.Helper()
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "precious"), []byte("not the target's"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "t.txt"), []byte("outside's own t.txt"), 0o644))
	// changed, and older: if-changed replaces it
	must(t, os.WriteFile(filepath.Join(dst, "a.txt"), []byte("a local edit, longer"), 0o644))
	must(t, os.Chtimes(filepath.Join(dst, "a.txt"), old, old))
	// a folder where the snapshot has a file
	must(t, os.Remove(filepath.Join(dst, "b.txt")))
	must(t, os.MkdirAll(filepath.Join(dst, "b.txt", "inner"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "b.txt", "inner", "file"), nil, 0o644))
	// a file where the snapshot has a folder
	must(t, os.RemoveAll(filepath.Join(dst, "g")))
	must(t, os.WriteFile(filepath.Join(dst, "g"), []byte("in the way"), 0o644))
	// a symlink to a folder outside, where the snapshot has a folder
	must(t, os.RemoveAll(filepath.Join(dst, "s")))
	must(t, os.Symlink(outside, filepath.Join(dst, "s")))
	// what the snapshot lacks: 11 paths
	for _, name := range []string{"x.txt", "d/x.txt", "d/e/x.log", "xd/y/z.txt", "xd/keep.log", "empty/junk"} {
		p := filepath.Join(dst, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte("extra "+name), 0o644))
	}
	must(t, os.Symlink(outside, filepath.Join(dst, "d", "out")))
	must(t, os.Symlink(filepath.Join(outside, "precious"), filepath.Join(dst, "d", "outf")))
	must(t, syscall.Mkfifo(filepath.Join(dst, "d", "fifo"), 0o600))
	// the 11: x.txt, d/x.txt, d/e/x.log, xd/y/z.txt, xd/y, xd/keep.log,
	// xd, empty/junk, d/out, d/outf, d/fifo
	return 11
}

// Delete with if-changed rolls a drifted folder back to the snapshot:
// what it lacks is gone (symlinks as links: what they point to outside
// stays), what changed is replaced, folders and files in each other's
// way are swapped, and the target ends equal to the source.
func TestDeleteRollsBack(t *testing.T) {
	f := newSmallTree(t)
	base := t.TempDir()
	dst, outside := filepath.Join(base, "out"), filepath.Join(base, "outside")
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil {
		t.Fatal(res.err, res.warned)
	}
	want := mess(t, dst, outside)
	outsideBefore := listing(t, outside)

	res := f.restore(t, "", restore.Options{Target: dst, Delete: true})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatalf("restore: %v, warnings %v", res.err, res.warned)
	}
	if got, want := listing(t, dst), listing(t, f.src); !slices.Equal(got, want) {
		t.Errorf("target differs from the source:\n got %q\nwant %q", got, want)
	}
	if got := listing(t, outside); !slices.Equal(got, outsideBefore) {
		t.Errorf("the folder outside the target changed:\n got %q\nwant %q", got, outsideBefore)
	}
	if res.st.Deleted != int64(want) {
		t.Errorf("deleted %d paths, want %d: %q", res.st.Deleted, want, res.items)
	}
	for _, p := range []string{"d/out", "d/outf", "xd/y", "xd", "d/fifo"} {
		if !slices.Contains(res.items, "deleted "+filepath.Join(dst, p)) {
			t.Errorf("%s not reported deleted: %q", p, res.items)
		}
	}
	for _, p := range []string{"a.txt", "b.txt"} {
		if !slices.Contains(res.items, "updated "+filepath.Join(dst, p)) {
			t.Errorf("%s not reported updated: %q", p, res.items)
		}
	}
	if !slices.Contains(res.items, "unchanged "+filepath.Join(dst, "d/c.txt")) {
		t.Errorf("d/c.txt not reported unchanged: %q", res.items)
	}
	if _, err := exec.LookPath("rsync"); err == nil {
		out, err := exec.Command("rsync", "-aHn", "-i", "--delete", "--modify-window=-1", f.src+"/", dst+"/").CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("rsync -aHn finds differences (%v):\n%s", err, out)
		}
	}

	// Without Delete a folder in the way of a file stays, as before.
	must(t, os.Remove(filepath.Join(dst, "b.txt")))
	must(t, os.Mkdir(filepath.Join(dst, "b.txt"), 0o755))
	res = f.restore(t, "", restore.Options{Target: dst})
	if !errors.Is(res.err, restore.ErrIncomplete) || len(res.warned) != 1 || !strings.Contains(res.warned[0], "a directory is in the way") {
		t.Errorf("without Delete: %v, %q; want the folder in the way reported", res.err, res.warned)
	}
}

// A dry run changes nothing, for any policy, with and without Delete, and
// foretells the real restore: the same counts and the same paths, each
// with the same action.
func TestDryRunForetellsRestore(t *testing.T) {
	f := newSmallTree(t)
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.Always, restore.Never} {
		for _, del := range []bool{false, true} {
			t.Run(fmt.Sprintf("overwrite=%d,delete=%v", ow, del), func(t *testing.T) {
				base := t.TempDir()
				dst, outside := filepath.Join(base, "out"), filepath.Join(base, "outside")
				if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil {
					t.Fatal(res.err, res.warned)
				}
				mess(t, dst, outside)
				before, outsideBefore := listing(t, dst), listing(t, outside)
				opt := restore.Options{Target: dst, Overwrite: ow, Delete: del}
				opt.DryRun = true
				dry := f.restore(t, "", opt)
				if got := listing(t, dst); !slices.Equal(got, before) {
					t.Fatalf("the dry run changed the target:\n got %q\nwant %q", got, before)
				}
				if got := listing(t, outside); !slices.Equal(got, outsideBefore) {
					t.Fatalf("the dry run changed the folder outside:\n got %q\nwant %q", got, outsideBefore)
				}
				opt.DryRun = false
				real := f.restore(t, "", opt)
				if *dry.st != *real.st || !slices.Equal(dry.items, real.items) || !slices.Equal(dry.warned, real.warned) ||
					(dry.err == nil) != (real.err == nil) {
					t.Errorf("the dry run foretold\n%+v %v\n%q\n%q\nthe restore did\n%+v %v\n%q\n%q",
						*dry.st, dry.err, dry.items, dry.warned, *real.st, real.err, real.items, real.warned)
				}
				if del && ow != restore.Never && real.st.Deleted != 11 {
					t.Errorf("deleted %d, want 11", real.st.Deleted)
				}
				if !del && real.st.Deleted != 0 {
					t.Errorf("deleted %d without Delete", real.st.Deleted)
				}
				if got := listing(t, outside); !slices.Equal(got, outsideBefore) {
					t.Errorf("the folder outside changed:\n got %q\nwant %q", got, outsideBefore)
				}
			})
		}
	}
}

// A dry run into a folder that is not there creates nothing, and counts
// all of the snapshot as to be restored.
func TestDryRunNewTarget(t *testing.T) {
	f := newSmallTree(t)
	dst := filepath.Join(t.TempDir(), "new", "out")
	dry := f.restore(t, "", restore.Options{Target: dst, DryRun: true, Delete: true})
	if dry.err != nil || len(dry.warned) > 0 {
		t.Fatalf("dry run: %v %q", dry.err, dry.warned)
	}
	if _, err := os.Lstat(filepath.Dir(dst)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dry run made the target's parent: %v", err)
	}
	real := f.restore(t, "", restore.Options{Target: dst, Delete: true})
	if *dry.st != *real.st || !slices.Equal(dry.items, real.items) {
		t.Errorf("dry %+v %q\nreal %+v %q", *dry.st, dry.items, *real.st, real.items)
	}
	if real.st.Files != 8 || real.st.Links != 1 || real.st.Others != 1 || real.st.Dirs != 5 || real.st.Bytes != 78 || real.st.Skipped != 0 {
		t.Errorf("stats %+v: want 8 files of 78 bytes, 1 link, 1 other, 5 dirs", *real.st)
	}
	// A file where the target should be is refused by both.
	file := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if _, err := restore.Run(context.Background(), f.r, f.sn, f.src, restore.Options{Target: file, DryRun: true}); err == nil {
		t.Error("a dry run into a file: no error")
	}
}

// Delete never deletes what the selection leaves out: a path an exclude
// pattern matches stays, and so do the folders holding one; with include
// patterns, only paths they match are deleted.
func TestDeleteKeepsWhatIsNotSelected(t *testing.T) {
	f := newSmallTree(t)
	base := t.TempDir()
	dst, outside := filepath.Join(base, "out"), filepath.Join(base, "outside")
	if res := f.restore(t, "", restore.Options{Target: dst}); res.err != nil {
		t.Fatal(res.err, res.warned)
	}
	mess(t, dst, outside)
	must(t, os.RemoveAll(filepath.Join(dst, "b.txt"))) // tested below
	must(t, os.WriteFile(filepath.Join(dst, "x.log"), nil, 0o644))
	res := f.restore(t, "", restore.Options{Target: dst, Delete: true, Exclude: []string{"*.log", "empty"}})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatalf("restore: %v %q", res.err, res.warned)
	}
	for _, p := range []string{"x.log", "d/e/x.log", "xd/keep.log", "empty/junk"} {
		if _, err := os.Lstat(filepath.Join(dst, p)); err != nil {
			t.Errorf("excluded %s was deleted: %v", p, err)
		}
	}
	for _, p := range []string{"x.txt", "d/x.txt", "xd/y", "d/out", "d/outf", "d/fifo"} {
		if _, err := os.Lstat(filepath.Join(dst, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	if res.st.Deleted != 7 {
		t.Errorf("deleted %d, want 7: %q", res.st.Deleted, res.items)
	}

	// A folder in the way of a file, holding an excluded path, stays: an
	// error, which keeps what its folder holds besides.
	must(t, os.Remove(filepath.Join(dst, "b.txt")))
	must(t, os.MkdirAll(filepath.Join(dst, "b.txt"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "b.txt", "inner.log"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "x.txt"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "d", "x.txt"), nil, 0o644))
	res = f.restore(t, "", restore.Options{Target: dst, Delete: true, Exclude: []string{"*.log"}})
	if !errors.Is(res.err, restore.ErrIncomplete) || len(res.warned) != 1 || !strings.Contains(res.warned[0], "excludes") {
		t.Fatalf("restore: %v %q, want the folder in the way reported", res.err, res.warned)
	}
	if _, err := os.Lstat(filepath.Join(dst, "b.txt", "inner.log")); err != nil {
		t.Errorf("b.txt/inner.log: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "x.txt")); err != nil {
		t.Errorf("x.txt, beside what failed, was deleted: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "d", "x.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("d/x.txt, in a folder restored whole, is still there: %v", err)
	}
	if !slices.Contains(res.notes, dst+": "+restore.NotDeleted) {
		t.Errorf("notices %q: want one saying %s keeps what the snapshot lacks", res.notes, dst)
	}

	// Include patterns: only what they select goes.
	must(t, os.Remove(filepath.Join(dst, "b.txt", "inner.log")))
	must(t, os.WriteFile(filepath.Join(dst, "d", "x.txt"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "d", "e", "y.txt"), nil, 0o644))
	res = f.restore(t, "", restore.Options{Target: dst, Delete: true, Include: []string{"e"}})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatalf("restore: %v %q", res.err, res.warned)
	}
	for p, gone := range map[string]bool{"x.txt": false, "d/x.txt": false, "d/e/y.txt": true} {
		if _, err := os.Lstat(filepath.Join(dst, p)); errors.Is(err, os.ErrNotExist) != gone {
			t.Errorf("%s: %v, want gone: %v", p, err, gone)
		}
	}
}

// Delete over the restore of one folder of the snapshot makes the target
// that folder; a single file restored deletes nothing.
func TestDeleteSubtree(t *testing.T) {
	f := newSmallTree(t)
	dst := t.TempDir()
	for _, name := range []string{"x.txt", "c.txt", "e/extra"} {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755))
		must(t, os.WriteFile(filepath.Join(dst, name), []byte("drift"), 0o644))
	}
	must(t, os.Chtimes(filepath.Join(dst, "c.txt"), time.Unix(0, 0), time.Unix(0, 0)))
	res := f.restore(t, filepath.Join(f.src, "d"), restore.Options{Target: dst, Delete: true})
	if res.err != nil || len(res.warned) > 0 {
		t.Fatalf("restore: %v %q", res.err, res.warned)
	}
	want := listing(t, filepath.Join(f.src, "d"))
	// The hardlinked name's count differs: its other name is not here.
	for i, l := range want {
		want[i] = strings.Replace(l, "nlink=2", "nlink=1", 1)
	}
	if got := listing(t, dst); !slices.Equal(got, want) {
		t.Errorf("target differs from the folder:\n got %q\nwant %q", got, want)
	}
	if res.st.Deleted != 2 {
		t.Errorf("deleted %d, want 2", res.st.Deleted)
	}
	res = f.restore(t, filepath.Join(f.src, "a.txt"), restore.Options{Target: dst, Delete: true})
	if res.err != nil || res.st.Deleted != 0 {
		t.Errorf("a single file: %v, %d deleted", res.err, res.st.Deleted)
	}
	if _, err := os.Lstat(filepath.Join(dst, "c.txt")); err != nil {
		t.Errorf("restoring a single file deleted what is beside it: %v", err)
	}
}

// A restore that is stopped, or that fails, deletes nothing where it did
// not complete: an interrupted one nothing at all, a failed one nothing
// in the folder of a failure and above it.
func TestDeleteOnlyAfterSuccess(t *testing.T) {
	f := newPartialFixture(t)
	for _, stop := range []bool{true, false} {
		t.Run(fmt.Sprint("stop=", stop), func(t *testing.T) {
			dst := t.TempDir()
			extras := []string{"extra", "sub/extra"}
			for _, name := range extras {
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(dst, name)), 0o755))
				must(t, os.WriteFile(filepath.Join(dst, name), nil, 0o644))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f.be.n.Store(0)
			f.be.after = 2
			cut := context.CancelFunc(func() {})
			if stop {
				cut = cancel
			}
			f.be.cancel.Store(&cut)
			var mu sync.Mutex
			var notes []string
			st, err := restore.Run(ctx, f.r, f.sn, f.src, restore.Options{Target: dst, Workers: 2, SkipOwner: true, Delete: true,
				Warn:   func(p string, err error) {},
				Notice: func(p, msg string) { mu.Lock(); notes = append(notes, p+": "+msg); mu.Unlock() }})
			if stop && !errors.Is(err, context.Canceled) || !stop && !errors.Is(err, restore.ErrIncomplete) {
				t.Fatalf("restore: %v", err)
			}
			for _, name := range extras {
				if _, err := os.Lstat(filepath.Join(dst, name)); err != nil {
					t.Errorf("%s was deleted: %v", name, err)
				}
			}
			if st.Deleted != 0 {
				t.Errorf("%d deleted", st.Deleted)
			}
			if !stop && !slices.Contains(notes, dst+": "+restore.NotDeleted) {
				t.Errorf("notices %q: want %s named", notes, dst)
			}
		})
	}
	f.be.after = 0
}

// Over the tree of every kind of entry and attribute, a drifted copy
// restored with Delete is the source again, to the last attribute.
func TestDeleteRollsBackEveryAttribute(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	testtree.Build(t, src, 3)
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	warn := func(p string, err error) { t.Errorf("restore %s: %v", p, err) }
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, Warn: warn}); err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "precious"), []byte("stays"), 0o644))
	must(t, os.WriteFile(filepath.Join(dst, testtree.FileSmall), []byte("drift"), 0o644))
	must(t, os.Chtimes(filepath.Join(dst, testtree.FileSmall), time.Unix(1, 0), time.Unix(1, 0)))
	must(t, os.MkdirAll(filepath.Join(dst, "links", "other", "new", "deeper"), 0o700))
	must(t, os.WriteFile(filepath.Join(dst, "links", "other", "new", "deeper", "f"), nil, 0o600))
	must(t, os.Link(filepath.Join(dst, testtree.LinkPairA), filepath.Join(dst, "links", "pair-c")))
	must(t, syscall.Mkfifo(filepath.Join(dst, "special", "extra-fifo"), 0o600))
	must(t, os.Symlink(outside, filepath.Join(dst, "files", "to-outside")))
	st, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, Delete: true, Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 6 {
		t.Errorf("deleted %d, want 6", st.Deleted)
	}
	if diffs := testtree.Compare(t, src, dst, testtree.CompareOptions{}); len(diffs) > 0 {
		t.Errorf("restored tree differs:\n%s", strings.Join(diffs, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(outside, "precious")); err != nil || string(b) != "stays" {
		t.Errorf("outside the target: %q, %v", b, err)
	}
	if _, err := exec.LookPath("rsync"); err == nil {
		out, err := exec.Command("rsync", "-aHAXn", "-i", "--numeric-ids", "--delete", "--modify-window=-1", src+"/", dst+"/").CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("rsync -aHAXn finds differences (%v):\n%s", err, out)
		}
	}
}

// Delete removes only within the snapshot's paths. A snapshot of src/d
// holds src and the folders above it only as the way down to d: restoring
// it in place with Delete must leave what else they hold (the rest of the
// system, for a snapshot of /home/ann restored to /), deleting only what
// d holds and the snapshot does not.
func TestDeleteKeepsWhatIsBesideTheSnapshotPaths(t *testing.T) {
	f := newSmallTree(t)
	res, err := ingest.Run(context.Background(), f.r, ingest.Options{Paths: []string{filepath.Join(f.src, "d")}, Host: "h", Source: "d"})
	if err != nil {
		t.Fatal(err)
	}
	sn := res.Snapshot
	for _, sub := range []string{"/", f.src} {
		dst := t.TempDir()
		base := dst
		if sub == "/" {
			base = filepath.Join(dst, f.src)
		}
		beside := []string{filepath.Join(base, "a.txt"), filepath.Join(base, "g", "h.txt"), filepath.Join(dst, "etc", "passwd")}
		extra := filepath.Join(base, "d", "x.txt")
		for _, p := range append(beside, extra) {
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, []byte("the target's own"), 0o644))
		}
		st, err := restore.Run(context.Background(), f.r, sn, sub, restore.Options{Target: dst, Delete: true, Workers: 2, SkipOwner: os.Geteuid() != 0})
		if err != nil {
			t.Fatalf("restore %s: %v", sub, err)
		}
		for _, p := range beside {
			if _, err := os.Lstat(p); err != nil {
				t.Errorf("restore %s --delete removed %s, beside the snapshot's path: %v", sub, p, err)
			}
		}
		if _, err := os.Lstat(extra); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("restore %s --delete kept %s, inside the snapshot's path: %v", sub, extra, err)
		}
		if st.Deleted != 1 {
			t.Errorf("restore %s: %d deleted, want 1", sub, st.Deleted)
		}
		if _, err := os.Stat(filepath.Join(base, "d", "e", "f.txt")); err != nil {
			t.Errorf("restore %s: d not restored: %v", sub, err)
		}
	}
}

// What the ingest itself left out was never backed up, so Delete must not
// delete it: what its exclude patterns matched (case-insensitive ones
// too), a tagged cache's contents, a file over the size limit, and what is
// mounted on a mount point --one-file-system did not cross (with --target
// / that would be /home, /boot or /dev). Everything else the snapshot
// lacks still goes.
func TestDeleteKeepsWhatTheIngestLeftOut(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root: this test mounts a tmpfs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	src := filepath.Join(t.TempDir(), "src")
	files := map[string]string{
		"keep.txt":               "backed up",
		"app.log":                "excluded by *.log",
		"deep/node_modules/m.js": "excluded by node_modules",
		"deep/Thumbs.DB":         "excluded by --iexclude thumbs.db",
		"c/CACHEDIR.TAG":         "Signature: 8a477f597d28d172789f06886806bc55",
		"c/data":                 "a cache's contents",
		"big/huge":               strings.Repeat("x", 4096),
		"big/small":              "under the limit",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(body), 0o644))
	}
	mnt := filepath.Join(src, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	must(t, os.WriteFile(filepath.Join(mnt, "other-fs"), []byte("on another filesystem"), 0o644))

	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Excludes: []string{"*.log", "node_modules"},
		IExcludes: []string{"thumbs.db"}, ExcludeCaches: true, ExcludeLargerThan: 1024, OneFileSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	// Roll src back in place: what the snapshot lacks and no rule left out
	// goes; the rest stays.
	for _, name := range []string{"new.txt", "deep/new.txt"} {
		must(t, os.WriteFile(filepath.Join(src, name), []byte("since"), 0o644))
	}
	st, err := restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: src, Delete: true, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if _, err := os.Lstat(filepath.Join(src, name)); err != nil {
			t.Errorf("--delete removed %s, which the ingest left out: %v", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(mnt, "other-fs")); err != nil {
		t.Errorf("--delete removed what is mounted on a mount point the ingest did not cross: %v", err)
	}
	for _, name := range []string{"new.txt", "deep/new.txt"} {
		if _, err := os.Lstat(filepath.Join(src, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("--delete kept %s, which the snapshot lacks: %v", name, err)
		}
	}
	if st.Deleted != 2 {
		t.Errorf("%d deleted, want 2", st.Deleted)
	}
}

// TestDeleteKeepsLeftOutInAFolderInTheWay: a folder where the snapshot has
// a file is replaced with --delete, but not when it holds what the
// ingest's own patterns left out (never backed up), as an extra folder
// holding such a path is kept.
func TestDeleteKeepsLeftOutInAFolderInTheWay(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "data"), []byte("a file"), 0o644))
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Excludes: []string{"*.log"}})
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.Remove(filepath.Join(src, "data")))
	must(t, os.MkdirAll(filepath.Join(src, "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "data/x.log"), []byte("never backed up"), 0o644))
	_, err = restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: src, Delete: true, Workers: 2,
		SkipOwner: os.Geteuid() != 0})
	if !errors.Is(err, restore.ErrIncomplete) {
		t.Errorf("restore: %v, want the folder in the way reported", err)
	}
	if _, err := os.Lstat(filepath.Join(src, "data/x.log")); err != nil {
		t.Errorf("--delete replaced a folder holding what the ingest left out: %v", err)
	}
}

// TestDeleteKeepsBesideAFollowedLink: a symlink on the way down to a given
// path inside another given path (src and src/link/sub) is followed and
// recorded as a folder holding only the way down; what else the folder it
// leads to holds was never looked at, and --delete keeps it.
func TestDeleteKeepsBesideAFollowedLink(t *testing.T) {
	dir := t.TempDir()
	src, data := filepath.Join(dir, "src"), filepath.Join(dir, "data")
	must(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "sub/f"), []byte("f"), 0o644))
	must(t, os.WriteFile(filepath.Join(data, "other"), []byte("not in the snapshot"), 0o644))
	must(t, os.Symlink(data, filepath.Join(src, "link")))
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src, filepath.Join(src, "link/sub")}})
	if err != nil {
		t.Fatal(err)
	}
	// A target holding the folder whole (an earlier restore, a copy).
	dst := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dst, "link/sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "link/other"), []byte("not in the snapshot"), 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "new"), []byte("since"), 0o644))
	if _, err := restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: dst, Delete: true, Workers: 2,
		SkipOwner: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "link/other")); err != nil {
		t.Errorf("--delete removed what the folder behind the link holds beside the way down: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--delete kept new, which the snapshot lacks: %v", err)
	}
}
