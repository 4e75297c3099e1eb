package tui

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// liveHarness is an App over a repository of a real ingested folder.
func liveHarness(t *testing.T) (*repotest.Fixture, *harness) {
	f := repotest.New(t)
	lipgloss.SetColorProfile(termenv.Ascii)
	a := New(context.Background(), f.Repo, Options{Location: time.UTC})
	a.static = true
	h := &harness{t: t, a: a, f: &fixture{}}
	h.send(teaSize(120, 30))
	h.run(a.Init())
	return f, h
}

// markLive marks rel (relative to the fixture's source) in its newest
// snapshot.
func markLive(t *testing.T, f *repotest.Fixture, h *harness, rel string) {
	t.Helper()
	sn := f.Snapshots[len(f.Snapshots)-1]
	p := filepath.Join(f.Source, rel)
	n, _, err := restore.Find(context.Background(), f.Repo, sn, p)
	if err != nil {
		t.Fatal(err)
	}
	h.a.marks.toggle(sn, p, n)
}

type stamp struct {
	mode  os.FileMode
	mtime time.Time
}

func stampOf(t *testing.T, p string) stamp {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return stamp{fi.Mode(), fi.ModTime()}
}

func setStamp(t *testing.T, p string, mode os.FileMode, mtime time.Time) stamp {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return stampOf(t, p)
}

// Restoring two marked files back in place writes those two files and
// nothing else: not their unmarked siblings, and not the mode or mtime of
// the live folders above them (their mtimes move, as with any tool
// writing in them).
func TestRestoreInPlaceTouchesOnlyMarks(t *testing.T) {
	f, h := liveHarness(t)
	docs := filepath.Join(f.Source, "docs")
	orig := map[string][]byte{}
	for _, rel := range []string{"a.txt", "b.txt", "notes/todo.txt"} {
		b, err := os.ReadFile(filepath.Join(docs, rel))
		if err != nil {
			t.Fatal(err)
		}
		orig[rel] = b
		os.WriteFile(filepath.Join(docs, rel), []byte("changed since\n"), 0o644)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	wantDocs := setStamp(t, docs, os.ModeDir|0o711, old)
	wantNotes := setStamp(t, filepath.Join(docs, "notes"), os.ModeDir|0o700, old)

	markLive(t, f, h, "docs/a.txt")
	markLive(t, f, h, "docs/notes/todo.txt")
	h.keys("R", "down", "right", "enter") // original location, overwrite always
	h.containsWrapped("Restore finished in", "restored     "+filepath.Join(docs, "a.txt"))
	for _, rel := range []string{"a.txt", "notes/todo.txt"} {
		if got, _ := os.ReadFile(filepath.Join(docs, rel)); string(got) != string(orig[rel]) {
			t.Errorf("%s was not restored: %q", rel, got)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(docs, "b.txt")); string(got) != "changed since\n" {
		t.Error("unmarked b.txt was overwritten")
	}
	// Their mtimes move, as with any tool writing in them.
	if got := stampOf(t, docs); got.mode != wantDocs.mode {
		t.Errorf("live folder docs changed from %v to %v", wantDocs.mode, got.mode)
	}
	if got := stampOf(t, filepath.Join(docs, "notes")); got.mode != wantNotes.mode {
		t.Errorf("live folder docs/notes changed from %v to %v", wantNotes.mode, got.mode)
	}
}

// Restoring into a folder that exists leaves that folder's own mode alone (it is not the snapshot's folder).
func TestRestoreIntoExistingFolderKeepsIt(t *testing.T) {
	f, h := liveHarness(t)
	dst := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(dst, 0o700)
	want := setStamp(t, dst, os.ModeDir|0o750, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
	markLive(t, f, h, "docs/a.txt")
	markLive(t, f, h, "media")
	h.keys("R", "right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("enter")
	h.contains("Restore finished in")
	if got := stampOf(t, dst); got.mode != want.mode {
		t.Errorf("the chosen folder changed from %v to %v", want.mode, got.mode)
	}
	a, _ := os.ReadFile(filepath.Join(dst, "docs", "a.txt"))
	src, _ := os.ReadFile(filepath.Join(f.Source, "docs", "a.txt"))
	if string(a) != string(src) {
		t.Error("docs/a.txt not restored into the folder")
	}
	if _, err := os.Stat(filepath.Join(dst, "media", "new.bin")); err != nil {
		t.Error(err)
	}
	if st := stampOf(t, filepath.Join(dst, "media")); st.mode.Perm() != 0o755 {
		t.Errorf("the marked folder media did not get its snapshot mode: %v", st.mode)
	}
}

// A marked file the overwrite policy keeps is reported as kept, not
// restored, and stays marked.
func TestRestoreReportsKept(t *testing.T) {
	f, h := liveHarness(t)
	p := filepath.Join(f.Source, "docs", "a.txt")
	os.WriteFile(p, []byte("newer\n"), 0o644)
	markLive(t, f, h, "docs/a.txt")
	h.keys("R", "enter") // original location, if-changed
	h.containsWrapped("kept         "+p, "existing file is newer")
	if h.shownWrapped(h.screen(), "restored     "+p) {
		t.Errorf("a kept file is reported restored:\n%s", h.screen())
	}
	if got, _ := os.ReadFile(p); string(got) != "newer\n" {
		t.Error("the newer file was replaced")
	}
	if h.a.marks.count() != 1 {
		t.Error("the kept file was unmarked")
	}
}

// A stopped restore says how many files it did not restore and that
// nothing partial is left; the failure list holds real failures only, and
// a file stopped half way is "not restored", not restored or incomplete.
func TestRestoreReportAfterCancel(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	sn := f.snaps[3]
	file := &tree.Node{Kind: tree.KindFile}
	p := &restorePage{stage: stageDone, canceled: true, totalOK: true, sizes: []workSize{{bytes: 1 << 20, files: 1}, {bytes: 3 << 10, files: 3}}, jobs: []restoreJob{
		{sn: sn, path: "/home/alice/big", node: file, dst: "/tmp/x/big", done: true, err: context.Canceled, stats: &restore.Stats{Stopped: 1}},
		{sn: sn, path: "/home/alice/later", dst: "/tmp/x/later"},
	}}
	s := strings.Join(p.reportLines(h.a), "\n")
	for _, want := range []string{"Restore stopped after 0:00: 4 files not restored (nothing partial left).", "not restored /home/alice/big", "not restored /home/alice/later",
		"0 files, 0 folders"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"incomplete", "failure", "restored     "} {
		if strings.Contains(s, bad) {
			t.Errorf("report says %q:\n%s", bad, s)
		}
	}

	// A folder stopped half way is partly restored; a real failure is
	// listed as one.
	dir := &tree.Node{Kind: tree.KindDir}
	p = &restorePage{stage: stageDone, canceled: true, jobs: []restoreJob{
		{sn: sn, path: "/home/alice/docs", node: dir, dst: "/tmp/x/docs", done: true, err: context.Canceled, stats: &restore.Stats{Files: 2, Stopped: 1}},
		{sn: sn, path: "/home/alice/bad", node: file, dst: "/tmp/x/bad", done: true, err: restore.ErrIncomplete, stats: &restore.Stats{Errors: 1}},
	}}
	p.report.failures = []string{"/tmp/x/bad: at offset 0: pack data/00/00: damaged"}
	s = strings.Join(p.reportLines(h.a), "\n")
	for _, want := range []string{"Restore stopped after 0:00: at least 1 file not restored (nothing partial left).", "partly restored /home/alice/docs",
		"failed       /home/alice/bad", "1 failure:", "/tmp/x/bad: at offset 0"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

// The notice for a kept newer file speaks of the dialog's choices, not of
// a CLI flag, and long report lines wrap instead of being cut off.
func TestRestoreNoticeWordingWraps(t *testing.T) {
	f, h := liveHarness(t)
	h.send(teaSize(60, 30))
	p := filepath.Join(f.Source, "docs", "a.txt")
	os.WriteFile(p, []byte("newer\n"), 0o644)
	markLive(t, f, h, "docs/a.txt")
	h.keys("R", "enter") // original location, if-changed
	scr := h.screen()
	flat := strings.Join(strings.Fields(scr), " ")
	if !strings.Contains(flat, "choose 'always' to replace it") || strings.Contains(scr, "--overwrite") {
		t.Errorf("the kept notice does not say to choose 'always':\n%s", scr)
	}
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, "…") {
			t.Errorf("a report line is cut off: %q", l)
		}
	}
}

// The dialog offers the folder and overwrite choice of the last restore
// started in the session.
func TestRestoreRemembersChoices(t *testing.T) {
	f, h := liveHarness(t)
	dst := filepath.Join(t.TempDir(), "chosen")
	markLive(t, f, h, "docs/a.txt")
	h.keys("R", "right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("tab", "right") // overwrite: always
	h.keys("enter")
	h.contains("Restore finished in")
	h.keys("esc")
	markLive(t, f, h, "docs/b.txt")
	h.keys("R")
	h.contains("(•) folder", "(•) always")
	h.keys("tab") // the folder field, shown whole while it is being changed
	h.containsWrapped("Folder:    " + dst)
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// gate holds every read of a data pack, once closed, until the reader's
// context ends: a restore started then runs until it is stopped.
type gate struct {
	backends.Backend
	closed atomic.Bool
	hit    chan struct{} // told when a read waits
	linger time.Duration // how long a held read takes to end once stopped
}

func (g *gate) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if g.closed.Load() && strings.HasPrefix(name, id.DataBlob.String()+"/") {
		select {
		case g.hit <- struct{}{}:
		default:
		}
		<-ctx.Done()
		time.Sleep(g.linger)
		return nil, ctx.Err()
	}
	return g.Backend.Load(ctx, name, off, length)
}

// ctrl+c during a restore stops it, waits for it to wind down and shows
// the report: the files not restored, none of them left partial; a second
// ctrl+c quits.
func TestCtrlCStopsRestore(t *testing.T) {
	ctx := context.Background()
	g := &gate{Backend: mem.New(), hit: make(chan struct{}, 1)}
	f := newFixtureOn(t, g)
	// A fresh handle: no data cached from building the fixture.
	r, err := repo.Open(ctx, g, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f.r = r
	h := newHarness(t, f, 120, 30)
	sn := f.snaps[3]
	n, _, err := restore.Find(ctx, r, sn, "/home/alice/photos")
	if err != nil {
		t.Fatal(err)
	}
	h.a.marks.toggle(sn, "/home/alice/photos", n)
	h.keys("R", "right", "tab", "ctrl+u")
	out := filepath.Join(t.TempDir(), "out")
	h.typeText(out)
	g.closed.Store(true)
	_, events := h.a.Update(keyMsg("enter")) // the restore runs; its events wait
	select {
	case <-g.hit:
	case <-time.After(20 * time.Second):
		t.Fatal("the restore never read data")
	}
	h.keys("ctrl+c")
	if h.quit {
		t.Fatal("ctrl+c during a restore quit at once")
	}
	h.contains("stopping")
	h.run(events)
	h.contains("Restore stopped after", "files not restored (nothing partial left)", "not restored /home/alice/photos")
	if scr := h.screen(); strings.Contains(scr, "failure") || strings.Contains(scr, "incomplete") {
		t.Errorf("a stopped restore reports failures:\n%s", scr)
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("%s is left behind by a restore stopped before any data was read", p)
		}
		return nil
	})
	h.keys("ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c after the report did not quit")
	}
}

// q and esc stop a running restore too, and leave the report on screen.
func TestQuitKeysStopRestore(t *testing.T) {
	for _, k := range []string{"q", "esc"} {
		h := newHarness(t, newFixture(t), 120, 30)
		canceled := false
		p := &restorePage{stage: stageRunning, started: time.Now(), cancel: func() { canceled = true },
			jobs: []restoreJob{{sn: h.f.snaps[3], path: "/home/alice", dst: "/tmp/x"}}}
		h.a.stack = append(h.a.stack, p)
		h.keys(k)
		if !canceled || h.a.top() != p || h.quit {
			t.Errorf("%s: canceled %v, top %T, quit %v", k, canceled, h.a.top(), h.quit)
		}
	}
}

// The progress counts files as well as bytes: the bar stays short of
// full while small files remain, and the ETA never reads 0:00 while
// anything is left.
func TestRestoreProgressCountsFiles(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.a.static = false // a real clock, for the rate and ETA
	p := &restorePage{stage: stageRunning, started: time.Now().Add(-10 * time.Second),
		jobs: []restoreJob{{sn: f.snaps[3], path: "/home/alice", dst: "/tmp/x"}}}
	p.update(h.a, restoreTotal{sizes: []workSize{{bytes: 1 << 20, files: 1000}}, ok: true})
	for _, c := range []struct {
		files int64
		want  string
	}{{5, "5/1000 files"}, {999, "999/1000 files"}} {
		p.update(h.a, restoreProgress{job: 0, p: restore.Progress{FilesDone: c.files, BytesDone: 1 << 20, TotalBytes: 1 << 20}})
		s := p.progressView(h.a, 120)
		if !strings.Contains(s, c.want) || !strings.Contains(s, "1.0 MiB of 1.0 MiB") {
			t.Errorf("progress lacks %q:\n%s", c.want, s)
		}
		if strings.Contains(s, "100%") || !strings.Contains(s, "ETA ") || strings.Contains(s, "ETA 0:00") {
			t.Errorf("%d of 1000 files done, all bytes:\n%s", c.files, s)
		}
	}
}

// Folders created above the marks in a chosen folder get the snapshot's
// mode and times, as the marks themselves do.
func TestRestoreIntoFolderGivesParentsTheirMetadata(t *testing.T) {
	f, h := liveHarness(t)
	dst := filepath.Join(t.TempDir(), "out")
	markLive(t, f, h, "docs/notes/todo.txt")
	markLive(t, f, h, "media/big.bin")
	h.keys("R", "right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("enter")
	h.contains("Restore finished in")
	sn := f.Snapshots[len(f.Snapshots)-1]
	for _, rel := range []string{"docs", "docs/notes", "media"} {
		n, _, err := restore.Find(context.Background(), f.Repo, sn, filepath.Join(f.Source, rel))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != os.FileMode(n.Mode).Perm() || fi.ModTime().UnixNano() != n.MTime {
			t.Errorf("%s: mode %v mtime %v, want %v %v", rel, fi.Mode().Perm(), fi.ModTime(), os.FileMode(n.Mode).Perm(), time.Unix(0, n.MTime))
		}
	}
}

// Names of one file marked separately are restored as copies (each run
// of restore links only its own names), and the report says so.
func TestRestoreReportsHardlinksSplitAcrossMarks(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	b := &builder{tb: t, r: r, s: r.NewSaver(ctx, 1)}
	link := func(name string) *tree.Node {
		n := b.file(name, []byte("linked\n"), 0o644, at(1, 1))
		n.Dev, n.Inode, n.Links = 1, 42, 2
		return n
	}
	root := b.root(b.dir("x", at(1, 1), link("one")), b.dir("y", at(1, 1), link("two")))
	if err := b.s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: at(1, 2), Tree: root, Paths: []string{"/"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, &fixture{r: r, snaps: []*repo.Snapshot{sn}}, 120, 30)
	for _, p := range []string{"/x", "/y/two"} {
		n, _, err := restore.Find(ctx, r, sn, p)
		if err != nil {
			t.Fatal(err)
		}
		h.a.marks.toggle(sn, p, n)
	}
	dst := filepath.Join(t.TempDir(), "out")
	h.keys("R", "right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("enter")
	h.contains("Restore finished in", "1 file has hardlinks in separate marks")
	for _, p := range []string{"x/one", "y/two"} {
		if got, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(got) != "linked\n" {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
}

// A folder of a diff that holds changes but did not change itself is
// marked with a node of its kind alone (no tree): the restore still
// counts what it holds, for the bar and for a stopped restore's count of
// files not restored (it said "0/0 files 0 B of 0 B" while writing the
// whole folder, and "2 files not restored" of thousands when stopped).
func TestDiffFolderMarkIsSized(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	h.run(h.a.openDiff(f.snaps[0], f.snaps[1]))
	p := h.a.top().(*diffPage)
	if len(p.rows) == 0 || p.rows[0].name != "home" || p.rows[0].change != nil {
		t.Fatalf("first row: %+v", p.rows[0])
	}
	h.keys("home", "space") // the diff opens on its first change: up to /home
	ms := h.a.marks.list()
	if len(ms) != 1 || ms[0].path != "/home" {
		t.Fatalf("marks: %d", len(ms))
	}
	n, _, err := restore.Find(ctx, f.r, ms[0].sn, "/home")
	if err != nil {
		t.Fatal(err)
	}
	want, err := newSizeCache().total(ctx, f.r, n.Subtree)
	if err != nil || want.files == 0 {
		t.Fatalf("%+v, %v", want, err)
	}
	work, ok, _ := jobSizes(ctx, f.r, h.a.sizes, []restoreJob{{sn: ms[0].sn, path: ms[0].path, node: ms[0].node}})
	if !ok || work[0].files != want.files || work[0].bytes != want.bytes {
		t.Errorf("marked diff folder sized %+v (known %v), want %d files, %d bytes", work[0], ok, want.files, want.bytes)
	}
}

// ctrl+r brings new copies of the snapshots: a mark made before it and
// one made after it in the same snapshot are still one snapshot to the
// restore. The dialog said "from 2 snapshots", and into a folder each
// mark went to a subfolder named after the (same) snapshot, below its
// own parent: out/<id>/docs and out/<id>/b.jpg instead of out/docs and
// out/photos/b.jpg.
func TestRestoreMarksAcrossReloadAreOneSnapshot(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	list := h.a.stack[0].(*snapshotsPage)
	mark := func(p string) {
		sn := list.all[len(list.all)-1]
		n, _, err := restore.Find(ctx, f.r, sn, p)
		if err != nil {
			t.Fatal(err)
		}
		h.a.marks.toggle(sn, p, n)
	}
	mark("/home/alice/docs")
	old := list.all[len(list.all)-1]
	h.keys("ctrl+r")
	if now := list.all[len(list.all)-1]; now == old || now.ID != old.ID {
		t.Fatal("the reload kept the same copy of the snapshot")
	}
	mark("/home/alice/photos/b.jpg")
	mark("/home/alice/docs/notes.txt") // inside the marked folder
	h.keys("R")
	h.contains("Restore 3 marked entries from 1 snapshot")
	dst := filepath.Join(t.TempDir(), "out")
	h.keys("right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("enter")
	h.contains("Restore finished in")
	for _, p := range []string{"docs/notes.txt", "photos/b.jpg"} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Error(err)
		}
	}
	if n := strings.Count(h.screen(), "  restored "); n != 2 {
		t.Errorf("%d entries restored, want 2 (the file inside the marked folder comes with it):\n%s", n, h.screen())
	}
}

// The report wraps a path by cells: a double-width character takes two.
// Counted in runes, a line of Japanese names came out twice as wide as
// the screen, and the screen's edge cut off the middle of the path.
func TestRestoreReportWrapsWideNames(t *testing.T) {
	name := "/data/" + strings.Repeat("日本語の長いファイル名", 4) + ".txt"
	err := "open " + name + ": permission denied"
	for _, width := range []int{30, 50} {
		for _, lines := range [][]string{
			cutLines("  restored     "+name, width, strings.Repeat(" ", 15)),
			wrapReport(err, width, "  "),
		} {
			joined := ""
			for _, l := range lines {
				if w := ansi.StringWidth(l); w > width {
					t.Errorf("width %d: %q is %d cells", width, l, w)
				}
				joined += strings.TrimLeft(l, " ")
			}
			if !strings.Contains(joined, name) {
				t.Errorf("width %d: the path is not all there: %q", width, lines)
			}
		}
	}
}

// Restoring into a folder whose existing entries are symlinks where the
// snapshot has the folders above a mark (or the marked folder itself)
// writes nothing through them: those marks fail, naming the symlink, and
// the others are restored.
func TestRestoreIntoFolderDoesNotFollowSymlinks(t *testing.T) {
	f, h := liveHarness(t)
	base := t.TempDir()
	dst := filepath.Join(base, "out")
	outside := filepath.Join(base, "outside")
	outside2 := filepath.Join(base, "outside2")
	for _, d := range []string{dst, filepath.Join(dst, "docs"), outside, outside2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dst, "docs", "notes")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside2, filepath.Join(dst, "media")); err != nil {
		t.Fatal(err)
	}
	markLive(t, f, h, "docs/notes")    // the marked folder is a symlink
	markLive(t, f, h, "media/big.bin") // a folder above it is
	markLive(t, f, h, "docs/a.txt")    // restored
	h.keys("R", "right", "tab", "ctrl+u")
	h.typeText(dst)
	h.keys("enter")
	h.contains("Restore finished")
	for _, d := range []string{outside, outside2} {
		if ents, err := os.ReadDir(d); err != nil || len(ents) != 0 {
			t.Errorf("%s, outside the target, holds %d entries (%v)", d, len(ents), err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dst, "docs", "a.txt"))
	src, _ := os.ReadFile(filepath.Join(f.Source, "docs", "a.txt"))
	if len(src) == 0 || string(a) != string(src) {
		t.Error("docs/a.txt not restored")
	}
	h.containsWrapped("2 failures", filepath.Join(dst, "docs", "notes")+" is a symlink", filepath.Join(dst, "media")+" is a symlink")
}

// A marked entry whose path wraps to more lines than the dialog has room
// for (a deep folder) is still shown, on one line with its end kept, not
// replaced by "… and 1 more".
func TestRestoreDialogShowsDeepPath(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 100, 20)
	sn := f.snaps[3]
	deep := strings.Repeat("/level_xxxxxxxxxxxx", 200) + "/file.txt"
	p := &restorePage{items: []*mark{{sn: sn, path: deep, node: &tree.Node{Kind: tree.KindFile}}}}
	lines := p.itemLines(h.a, 100, 5)
	s := strings.Join(lines, "\n")
	if len(lines) != 1 || !strings.Contains(s, sn.ID.Short()) || !strings.Contains(s, "level_xxxxxxxxxxxx/file.txt") || strings.Contains(s, "more") {
		t.Errorf("the one marked deep file is listed as:\n%s", s)
	}
	p.items = append(p.items, &mark{sn: sn, path: "/home/alice/notes", node: &tree.Node{Kind: tree.KindFile}})
	lines = p.itemLines(h.a, 100, 5)
	if s := strings.Join(lines, "\n"); len(lines) != 2 || !strings.Contains(lines[0], "/file.txt") || !strings.Contains(s, "/home/alice/notes") {
		t.Errorf("two marked entries, the first deep, are listed as:\n%s", s)
	}
	for _, l := range lines {
		if w := ansi.StringWidth(l); w > 100 {
			t.Errorf("line %q is %d cells wide, more than 100", l, w)
		}
	}
}

// Letters typed while the cursor is not on the folder field change
// nothing: o, t, h and l were hidden shortcuts, so a path typed on the
// wrong field ("/srv/photos") switched the restore to the original
// location, or changed the overwrite choice, without the user seeing why.
func TestRestoreDialogLettersOutsideFolderField(t *testing.T) {
	h := newHarness(t, newFixture(t), 120, 30)
	h.keys("enter", "space", "R", "right") // into a folder; cursor on Where
	p, ok := h.a.top().(*restorePage)
	if !ok {
		t.Fatalf("the restore dialog is not open")
	}
	overwrite := p.overwrite
	h.typeText("/srv/photos/hello/out")
	if p.original {
		t.Fatal("typing a path on the Where field chose the original location")
	}
	h.keys(" ")
	if p.original {
		t.Fatal("a space typed on the Where field chose the original location")
	}
	h.keys("tab", "tab") // Overwrite
	h.typeText("/home/lola")
	if p.original || p.overwrite != overwrite {
		t.Fatalf("typing on the Overwrite field changed the choices: original %v, overwrite %v (was %v)", p.original, p.overwrite, overwrite)
	}
}

// A signal (the context of cairn tui ending) during a restore ends the
// program only once the restore has stopped: the process used to exit
// under it, leaving the file it had begun (an empty placeholder under the
// file's own name) and its lock in the repository.
func TestRunWaitsForStoppedRestore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &gate{Backend: mem.New(), hit: make(chan struct{}, 1), linger: 300 * time.Millisecond}
	f := newFixtureOn(t, g)
	r, err := repo.Open(ctx, g, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f.r = r
	lipgloss.SetColorProfile(termenv.Ascii)
	a := New(ctx, r, Options{Location: time.UTC})
	a.static = true
	h := &harness{t: t, f: f, a: a}
	h.send(teaSize(120, 30))
	h.run(a.Init())
	sn := f.snaps[3]
	n, _, err := restore.Find(ctx, r, sn, "/home/alice/photos")
	if err != nil {
		t.Fatal(err)
	}
	a.marks.toggle(sn, "/home/alice/photos", n)
	h.keys("R", "right", "tab", "ctrl+u")
	out := filepath.Join(t.TempDir(), "out")
	h.typeText(out)
	g.closed.Store(true)
	in, keys := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, a, func() {}, tea.WithInput(in), tea.WithOutput(io.Discard)) }()
	keys.Write([]byte("\r")) // enter: the restore starts
	select {
	case <-g.hit:
	case <-time.After(20 * time.Second):
		t.Fatal("the restore never read data")
	}
	cancel() // SIGTERM
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not end")
	}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("%s is left behind by a restore stopped before any data was read", p)
		}
		return nil
	})
	g.Backend.List(context.Background(), "locks/", func(fi backends.Info) error {
		t.Errorf("lock %s left in the repository", fi.Name)
		return nil
	})
}

// A folder typed as ~/... with HOME unset (env -i, a service) is refused:
// it was taken as a folder named "~" in the working directory, which a
// later rm -rf ~ would take for the home.
func TestRestoreFolderTildeWithoutHome(t *testing.T) {
	f := newFixture(t)
	sn := f.snaps[3]
	t.Setenv("HOME", "")
	p := &restorePage{items: []*mark{{sn: sn, path: "/home/alice/notes", node: &tree.Node{Kind: tree.KindFile}}}}
	for _, typed := range []string{"~/restored", "~"} {
		p.folder.value = typed
		jobs, err := p.plan()
		if err == nil {
			t.Errorf("folder %q without HOME planned %d jobs (%+v); want an error", typed, len(jobs), jobs)
		} else if !strings.Contains(err.Error(), "full path") {
			t.Errorf("folder %q without HOME: %v", typed, err)
		}
	}
	t.Setenv("HOME", "/home/ann")
	p.folder.value = "~/restored"
	if jobs, err := p.plan(); err != nil || len(jobs) == 0 || !strings.HasPrefix(jobs[0].root, "/home/ann/restored") {
		t.Errorf("folder ~/restored with HOME=/home/ann: %v", err)
	}
}

// A restore run again into the folder of its first run keeps everything;
// the report said "kept" for a marked folder without subfolders (media)
// but "restored" for one with a subfolder (docs, holding notes), whose
// existing subfolder counted as restored, and unmarked it: the two were
// told apart by nothing that happened on disk. A folder made is still
// reported restored.
func TestRestoreRerunReportsFoldersKept(t *testing.T) {
	f, h := liveHarness(t)
	dst := filepath.Join(t.TempDir(), "out")
	restoreBoth := func() {
		if h.a.marks.count() == 0 {
			markLive(t, f, h, "docs")
			markLive(t, f, h, "media")
		}
		h.keys("R")
		// The dialog remembers the folder of the run before; "right"
		// there would go back to the original location.
		if h.a.top().(*restorePage).original {
			h.keys("right")
		}
		h.keys("tab", "ctrl+u")
		h.typeText(dst)
		h.keys("enter")
		h.contains("Restore finished in")
	}
	// The report line of a marked entry, restored into dst.
	line := func(state, name string) string {
		return fmt.Sprintf("%-12s %s → %s", state, filepath.Join(f.Source, name), filepath.Join(dst, name))
	}
	restoreBoth()
	h.containsWrapped(line("restored", "docs"), line("restored", "media"))
	h.keys("esc")
	restoreBoth()
	h.containsWrapped(line("kept", "docs"), line("kept", "media"))
	if h.a.marks.count() != 2 {
		t.Errorf("%d marks left, want the 2 kept", h.a.marks.count())
	}
	h.keys("esc")
	// An empty subfolder made anew: docs is restored.
	if err := os.RemoveAll(filepath.Join(dst, "docs", "notes")); err != nil {
		t.Fatal(err)
	}
	restoreBoth()
	h.containsWrapped(line("restored", "docs"), line("kept", "media"))
}

// Restored in the original location, a marked folder that is now a
// symlink (docs/notes -> a folder elsewhere) was restored through it:
// the snapshot's files went into the folder it points to, which got the
// snapshot folder's mode and times, and the report said the folder was
// restored; cairn restore replaces such a symlink instead. Now it is
// refused, as it is when restoring into a folder, and the rest is
// restored.
func TestRestoreInPlaceDoesNotFollowMarkedSymlink(t *testing.T) {
	f, h := liveHarness(t)
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(f.Source, "docs", "notes")
	if err := os.RemoveAll(notes); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, notes); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(f.Source, "docs", "a.txt")
	want, _ := os.ReadFile(a)
	os.WriteFile(a, []byte("changed\n"), 0o644)
	markLive(t, f, h, "docs/notes")
	markLive(t, f, h, "docs/a.txt")
	h.keys("R", "down", "right", "enter") // original location, always
	h.containsWrapped("Restore finished with failures", "failed       "+notes, notes+" is a symlink")
	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 0 {
		t.Errorf("%s, outside the snapshot's folder, holds %d entries (%v)", outside, len(ents), err)
	}
	if fi, err := os.Stat(outside); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the folder the symlink points to was changed: %v %v", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(a); string(got) != string(want) {
		t.Errorf("docs/a.txt not restored: %q", got)
	}
}
