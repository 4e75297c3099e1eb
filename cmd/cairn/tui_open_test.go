package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// holdLocalIndex takes the lock of c's shared local index, as another
// cairn using it would, until release is called or the test ends.
func holdLocalIndex(t *testing.T, c *cli) (dir string, release func()) {
	t.Helper()
	dbs, _ := filepath.Glob(filepath.Join(c.getenv("CAIRN_CACHE_DIR"), "*", "index.db"))
	if len(dbs) != 1 {
		t.Fatalf("local index files: %v", dbs)
	}
	f, err := os.OpenFile(dbs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	release = func() { f.Close() }
	t.Cleanup(release)
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(dbs[0]), release
}

// While the repository opens (here: waiting for a local index another
// process holds, then building a private one), the TUI is up and says
// what it is doing. Before, the terminal stayed blank until the index was
// ready, minutes on a first run against a big repository, and looked
// hung.
//
// No timing is relied on: the private index starts from the copy the
// holder published, here a fifo, and the opening waits on it for as long
// as the test takes to see the screen.
func TestTUIShowsOpening(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 1<<10, 7)
	c.ok("ingest", "-q", src)
	dir, release := holdLocalIndex(t, c)
	published := filepath.Join(dir, "index.db.published")
	if err := syscall.Mkfifo(published, 0o600); err != nil {
		t.Fatal(err)
	}

	s := startTmux(t, 80, 24, tuiCommand(c)+"; echo cairn-exited-$?; sleep 60")
	s.wait("opening the repository: opening the local index")
	s.wait("is busy; using a private one")
	s.wait("q or ctrl+c quits")
	// The published copy given (empty: the private index is read from
	// the repository), the list comes up.
	w, err := os.OpenFile(published, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	release()
	s.wait("1 snapshot ")
	s.keys("q")
	if scr := s.wait("cairn-exited-0"); strings.Contains(scr, "snapshot") {
		t.Errorf("the TUI's screen is left after it quit:\n%s", scr)
	}
}

// q quits while the repository opens, at 40x12 as well, and leaves the
// terminal as it was: the TUI's screen gone, and nothing the opening said
// as it stopped written after it. Before, the notice of the busy local
// index, found once its wait ended, was written under the shell's prompt
// after the TUI was gone.
func TestTUIQuitWhileOpening(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 1<<10, 7)
	c.ok("ingest", "-q", src)
	holdLocalIndex(t, c) // the opening waits for it, then goes on without it

	s := startTmux(t, 40, 12, tuiCommand(c)+"; echo cairn-exited-$?; sleep 60")
	s.wait("q or ctrl+c quits")
	s.keys("q")
	scr := s.wait("cairn-exited-0")
	if strings.Contains(scr, "is busy") || strings.Contains(scr, "quits") {
		t.Errorf("the terminal after quitting while the repository opened:\n%s", scr)
	}
}
