package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A file whose path is longer than PATH_MAX, named in a --files-from
// list, is ingested as it is when named on the command line: it was
// skipped with "nothing matches", as filepath.Glob cannot stat it.
func TestFilesFromPathLongerThanPathMax(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{root}
	for i := 0; len(strings.Join(parts, "/")) < 5000; i++ {
		name := strings.Repeat("d", 200)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, parts = next, append(parts, name)
	}
	f, err := unix.Openat(fd, "deep.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(f, []byte("at the bottom\n"))
	unix.Close(f)
	deep := strings.Join(append(parts, "deep.txt"), "/")

	list := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(list, []byte(deep+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := c.run("ingest", "--files-from", list)
	if code != 0 || strings.Contains(out, "nothing matches") {
		t.Fatalf("ingest --files-from a list naming a path of %d bytes: exit %d\n%s", len(deep), code, out)
	}
	if got := c.ok("dump", "latest:"+deep); got != "at the bottom\n" {
		t.Errorf("the snapshot's deep.txt holds %q", got)
	}
}
