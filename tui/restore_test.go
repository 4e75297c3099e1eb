package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/restore"
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
	h.contains("Restore finished in", "restored     "+filepath.Join(docs, "a.txt"))
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
	h.keys("R", "t", "ctrl+u")
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
	h.contains("kept         "+p, "existing file is newer")
	if strings.Contains(h.screen(), "restored     "+p) {
		t.Errorf("a kept file is reported restored:\n%s", h.screen())
	}
	if got, _ := os.ReadFile(p); string(got) != "newer\n" {
		t.Error("the newer file was replaced")
	}
	if h.a.marks.count() != 1 {
		t.Error("the kept file was unmarked")
	}
}

// A stopped restore names the files it left incomplete.
func TestRestoreReportAfterCancel(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, 120, 30)
	sn := f.snaps[3]
	p := &restorePage{stage: stageDone, canceled: true, jobs: []restoreJob{
		{sn: sn, path: "/home/alice/big", dst: "/tmp/x/big", done: true, err: context.Canceled, stats: &restore.Stats{Files: 1}},
		{sn: sn, path: "/home/alice/later", dst: "/tmp/x/later"},
	}}
	p.report.failures = []string{"/tmp/x/big: left incomplete from offset 4096: context canceled"}
	s := strings.Join(p.reportLines(h.a), "\n")
	for _, want := range []string{"Restore stopped", "1 entry was left incomplete", "incomplete   /home/alice/big", "not restored /home/alice/later"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
