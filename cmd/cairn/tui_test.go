package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// tmuxSession runs a command in a detached tmux session of its own, on a
// fixed-size terminal, and reads the screen back.
type tmuxSession struct {
	t    *testing.T
	dir  string // the socket's folder
	sock string // relative to dir
}

func startTmux(t *testing.T, w, h int, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed (make deps installs it)")
		}
		t.Skip("needs tmux")
	}
	// The socket is named from its folder: its full path, under a long
	// TMPDIR, would not fit a socket address. The session still starts
	// in the test's working folder.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, dir: t.TempDir(), sock: "tmux.sock"}
	s.tmux("new-session", "-d", "-c", wd, "-x", itoa(w), "-y", itoa(h), command)
	t.Cleanup(func() {
		kill := exec.Command("tmux", "-S", s.sock, "kill-server")
		kill.Dir = s.dir
		kill.Run()
	})
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p") }

// keys sends tmux key names ("Enter", "Space", "C-u") one at a time: keys
// that arrive together read as one message ("qq").
func (s *tmuxSession) keys(keys ...string) {
	for _, k := range keys {
		s.tmux("send-keys", k)
		time.Sleep(100 * time.Millisecond)
	}
}

// text types s literally.
func (s *tmuxSession) text(str string) { s.tmux("send-keys", "-l", str) }

// wait polls the screen until it holds want.
func (s *tmuxSession) wait(want string) string {
	s.t.Helper()
	return s.waitFor(strconv.Quote(want), func(scr string) bool { return strings.Contains(scr, want) })
}

// waitFor polls the screen until ok says it shows what is awaited
// (described by what, for the failure).
func (s *tmuxSession) waitFor(what string, ok func(scr string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		scr := s.screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %s:\n%s", what, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tuiCommand is the shell command that runs c's cairn tui in tmux, with
// c's repository settings.
func tuiCommand(c *cli) string { return cairnCommand(c, "tui") }

// cairnCommand is the shell command that runs c's cairn with args (taken
// as they are) on a terminal, with c's repository settings.
func cairnCommand(c *cli, args string) string {
	var env []string
	for _, e := range c.env {
		if strings.HasPrefix(e, "CAIRN_") {
			env = append(env, shellQuote(e))
		}
	}
	return "env TERM=xterm-256color TZ=UTC " + strings.Join(env, " ") + " " + shellQuote(c.bin) + " " + args
}

// shellQuote quotes s for sh: the binary and the test's folders live
// under TMPDIR, whose path may hold spaces or quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// TestTUIEndToEnd drives the real binary in tmux: it opens a repository,
// finds a file, marks two files and a folder, restores them into a folder
// and checks the restored bytes, modes and mtimes, also of the folder made
// above two of the marks.
func TestTUIEndToEnd(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	mtime := time.Date(2025, 6, 1, 12, 30, 0, 123456789, time.UTC)
	files := map[string]struct {
		data string
		mode os.FileMode
	}{
		"docs/a.txt":    {"alpha\n", 0o640},
		"docs/b.txt":    {"bravo bravo\n", 0o600},
		"docs/skip.txt": {"not marked\n", 0o644},
		"dir/x":         {"x-ray\n", 0o755},
		"dir/sub/y":     {strings.Repeat("yankee ", 5000), 0o644},
		"other.txt":     {"other\n", 0o644},
	}
	for rel, f := range files {
		p := filepath.Join(src, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
		os.Chtimes(p, mtime, mtime)
	}
	// docs is above the marks: the restore makes it with these.
	docsMode, docsTime := os.FileMode(0o751), time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chmod(filepath.Join(src, "docs"), docsMode)
	os.Chtimes(filepath.Join(src, "docs"), docsTime, docsTime)
	c.ok("ingest", "-q", src)
	dst := filepath.Join(t.TempDir(), "restored")

	s := startTmux(t, 120, 35, tuiCommand(c)+"; echo cairn-exited-$?; sleep 60")
	s.wait("1 snapshot ")

	s.keys("f")
	s.wait("Find in all snapshots")
	s.text("b.txt")
	s.keys("Enter")
	s.wait("1 path")
	s.keys("j")
	s.keys("Enter") // the one result is expanded: open its snapshot there
	s.wait(src + "/docs")
	s.keys("Space") // b.txt
	s.keys("g", "Space")
	s.keys("h") // up to src, cursor on docs
	s.wait("other.txt")
	s.keys("k", "Space") // dir/
	scr := s.wait("3 marked")
	if strings.Count(scr, "*") < 1 {
		t.Fatalf("no mark shown:\n%s", scr)
	}
	s.keys("R")
	s.wait("Restore 3 marked entries")
	s.keys("Right", "Tab", "C-u")
	s.text(dst)
	s.keys("Enter")
	scr = s.wait("esc closes")
	if !strings.Contains(scr, "Restore finished") {
		t.Fatalf("restore report:\n%s", scr)
	}
	for _, want := range []string{"restored     " + src + "/docs/b.txt", "restored     " + src + "/dir"} {
		if !strings.Contains(scr, want) {
			t.Errorf("report lacks %q:\n%s", want, scr)
		}
	}
	// An escape followed at once by q reads as alt+q: wait in between.
	s.keys("Escape")
	s.wait("MTIME")
	// A mark left behind: q on the first page asks before quitting, a
	// key other than q stays, and q again quits.
	s.keys("Space")
	s.wait("1 marked")
	s.keys("q", "q", "q")
	s.wait("1 marked entry will be lost: q again to quit")
	s.keys("j")
	s.wait("1 snapshot ")
	if scr := s.screen(); strings.Contains(scr, "will be lost") || strings.Contains(scr, "cairn-exited") {
		t.Fatalf("a key other than q does not stay:\n%s", scr)
	}
	s.keys("q")
	s.wait("will be lost")
	s.keys("q")
	s.wait("cairn-exited-0")

	if fi, err := os.Stat(filepath.Join(dst, "docs")); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != docsMode || !fi.ModTime().Equal(docsTime) {
		t.Errorf("docs above the marks: %v %v, want %v %v", fi.Mode().Perm(), fi.ModTime(), docsMode, docsTime)
	}
	for rel, f := range files {
		p := filepath.Join(dst, rel)
		marked := !strings.HasPrefix(rel, "other") && rel != "docs/skip.txt"
		got, err := os.ReadFile(p)
		if !marked {
			if err == nil {
				t.Errorf("%s was not marked but was restored", rel)
			}
			continue
		}
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Equal(got, []byte(f.data)) {
			t.Errorf("%s: restored bytes differ", rel)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), f.mode)
		}
		if !fi.ModTime().Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", rel, fi.ModTime(), mtime)
		}
	}
}

// An open TUI works on its own copy of the local index, as a mount does:
// an ingest meanwhile uses the shared one, so it knows which files did not
// change and reads none of them. Before, the TUI held the shared index, and
// a nightly ingest while someone browsed read and hashed everything again.
func TestTUILeavesLocalIndexToIngest(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 4, 10<<10, 3)
	c.ok("ingest", "-q", src)
	s := startTmux(t, 120, 35, tuiCommand(c)+"; sleep 60")
	s.wait("1 snapshot ")

	var out, errb bytes.Buffer
	cmd := c.cmd("ingest", src)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ingest beside the TUI: %v: %s", err, errb.String())
	}
	if strings.Contains(errb.String(), "busy") {
		t.Fatalf("ingest found the local index busy: %s", errb.String())
	}
	if !strings.Contains(out.String(), "0 new, 0 changed, 4 unchanged") {
		t.Fatalf("ingest beside the TUI did not know its files unchanged:\n%s", out.String())
	}
	s.keys("C-r")
	s.wait("2 snapshots")
}

// A notice of the repository's while the TUI runs (here: the stale lock
// of a TUI killed while it restored, removed when the next restore takes
// its lock) is shown in the restore's report. Before, it was written to
// the terminal under the TUI: it landed at the bottom of the screen,
// scrolled it, and left lines of the dialog standing in the report.
func TestTUIRestoreShowsRepositoryNotices(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 2, 1<<10, 5)
	c.ok("ingest", "-q", src)
	r := openRepoOf(t, c, nil)
	old := time.Now().UTC().Add(-repo.StaleAfter - time.Minute)
	stale := writeAbandonedLock(t, c, r, repo.LockInfo{Time: old, Refreshed: old, Host: "otherhost", PID: 10639, User: "root", Operation: "tui restore"})
	dst := filepath.Join(t.TempDir(), "restored")

	s := startTmux(t, 120, 35, tuiCommand(c)+"; sleep 60")
	s.wait("1 snapshot ")
	s.keys("Enter")
	s.wait("MTIME")
	s.keys("Space", "R")
	s.wait("Restore 1 marked entry")
	s.keys("Right", "Tab", "C-u")
	s.text(dst)
	s.keys("Enter")
	scr := s.wait("esc closes")
	time.Sleep(300 * time.Millisecond)
	scr = s.screen()
	if !strings.Contains(scr, "  removed stale lock "+stale) {
		t.Errorf("the report does not show the stale lock removed:\n%s", scr)
	}
	for _, l := range strings.Split(scr, "\n") {
		if strings.HasPrefix(l, "removed stale lock") || strings.Contains(l, "Where:") {
			t.Errorf("the screen is garbled by a notice written under the TUI:\n%s", scr)
			break
		}
	}
}

// TestIngestStdinFromTerminal: `cairn ingest --stdin` run with nothing
// piped in says it reads the terminal and how to end (restic waits
// without a word, which looks hung); what is typed then is the snapshot.
func TestIngestStdinFromTerminal(t *testing.T) {
	c := newCLI(t)
	s := startTmux(t, 160, 10, cairnCommand(c, "ingest --stdin --stdin-name typed.txt")+"; echo ingest-exit=$?; sleep 60")
	s.wait("end with Ctrl-D")
	s.text("typed line")
	s.keys("Enter", "C-d")
	s.wait("ingest-exit=0")
	if got := c.ok("dump", "latest:/typed.txt"); got != "typed line\n" {
		t.Fatalf("the snapshot holds %q, want what was typed", got)
	}
}
