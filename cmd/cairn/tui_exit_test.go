package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Every way out of cairn tui has the exit code of the README: q 0,
// ctrl+c 130 on every page and while the repository opens (ctrl+c is a
// key in the TUI's raw mode, but means what it means in a shell, as in
// fzf), a wrong password 12, no repository 10. Before, ctrl+c exited 0,
// so `cairn tui && next` went on after the user interrupted it.
func TestTUIExitCodes(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 1<<10, 7)
	c.ok("ingest", "-q", src)
	run := func(t *testing.T, c *cli, steps func(s *tmuxSession), want string) {
		t.Helper()
		s := startTmux(t, 80, 24, tuiCommand(c)+"; echo cairn-exited-$?; sleep 60")
		steps(s)
		scr := s.wait("cairn-exited-")
		if !strings.Contains(scr, "cairn-exited-"+want) {
			t.Fatalf("exit code is not %s:\n%s", want, scr)
		}
		// Interrupted, it says so as every command does; q is quiet.
		if said := strings.Contains(scr, "cairn: interrupted"); said != (want == "130") {
			t.Fatalf("exit %s, \"cairn: interrupted\" said: %v:\n%s", want, said, scr)
		}
	}
	t.Run("q", func(t *testing.T) {
		run(t, c, func(s *tmuxSession) { s.wait("1 snapshot "); s.keys("q") }, "0")
	})
	t.Run("ctrl+c on the list", func(t *testing.T) {
		run(t, c, func(s *tmuxSession) { s.wait("1 snapshot "); s.keys("C-c") }, "130")
	})
	t.Run("ctrl+c in a tree", func(t *testing.T) {
		run(t, c, func(s *tmuxSession) { s.wait("1 snapshot "); s.keys("Enter"); s.wait("3 entries"); s.keys("C-c") }, "130")
	})
	t.Run("ctrl+c in the help", func(t *testing.T) {
		run(t, c, func(s *tmuxSession) { s.wait("1 snapshot "); s.keys("?"); s.wait("everywhere"); s.keys("C-c") }, "130")
	})
	t.Run("ctrl+c in a filter", func(t *testing.T) {
		run(t, c, func(s *tmuxSession) { s.wait("1 snapshot "); s.keys("/"); s.wait("filter:"); s.keys("C-c") }, "130")
	})
	t.Run("ctrl+c in a search", func(t *testing.T) {
		run(t, c, func(s *tmuxSession) {
			s.wait("1 snapshot ")
			s.keys("f")
			s.wait("Find in all snapshots")
			s.keys("C-c")
		}, "130")
	})
	t.Run("ctrl+c while opening", func(t *testing.T) {
		c := newCLIAt(t, c.getenv("CAIRN_REPOSITORY"))
		c.ok("snapshots", "-q")
		// The opening waits on the published copy of the busy local
		// index, a fifo.
		dir, _ := holdLocalIndex(t, c)
		published := filepath.Join(dir, "index.db.published")
		if err := syscall.Mkfifo(published, 0o600); err != nil {
			t.Fatal(err)
		}
		// Never let go: the opening, deaf to the cancel, is given up
		// after a short grace, and cairn exits. Before, it never did.
		run(t, c, func(s *tmuxSession) {
			s.wait("q or ctrl+c quits")
			s.wait("is busy")
			s.keys("C-c")
		}, "130")
	})
	t.Run("wrong password", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "wrong")
		os.WriteFile(pw, []byte("not it\n"), 0o600)
		c := newCLIAt(t, c.getenv("CAIRN_REPOSITORY"), "CAIRN_PASSWORD_FILE="+pw)
		run(t, c, func(s *tmuxSession) {}, "12")
	})
	t.Run("no repository", func(t *testing.T) {
		c := newCLIAt(t, filepath.Join(t.TempDir(), "none"))
		run(t, c, func(s *tmuxSession) {}, "10")
	})
}
