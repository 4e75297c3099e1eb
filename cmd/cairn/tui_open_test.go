package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// holdLocalIndex takes the lock of c's shared local index, as another
// cairn using it would, until the test ends.
func holdLocalIndex(t *testing.T, c *cli) {
	t.Helper()
	dbs, _ := filepath.Glob(filepath.Join(c.getenv("CAIRN_CACHE_DIR"), "*", "index.db"))
	if len(dbs) != 1 {
		t.Fatalf("local index files: %v", dbs)
	}
	f, err := os.OpenFile(dbs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
}

// While the repository opens (here: waiting for a local index another
// process holds, then building a private one), the TUI is up and says
// what it is doing, and q quits it. Before, the terminal stayed blank
// until the index was ready, minutes on a first run against a big
// repository, and looked hung.
func TestTUIShowsOpening(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 1<<10, 7)
	c.ok("ingest", "-q", src)
	holdLocalIndex(t, c)

	s := startTmux(t, 80, 24, tuiCommand(c)+"; echo cairn-exited-$?; sleep 60")
	s.wait("opening the repository: opening the local index")
	s.wait("1 snapshot ") // then the list, from a private index

	// q while it opens quits at once, at 40x12 as well.
	s = startTmux(t, 40, 12, tuiCommand(c)+"; echo cairn-exited-$?; sleep 60")
	s.wait("q or ctrl+c quits")
	s.keys("q")
	s.wait("cairn-exited-0")
}
