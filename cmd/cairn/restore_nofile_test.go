package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A restore under a low limit of open files (`ulimit -n 64`, as restic
// restores): the folders the restore kept open below the target, a cache
// of up to 64 for each spelling of it, took every descriptor, and a
// restore of 100 folders failed most of its files with "too many open
// files" and exit 1.
func TestRestoreLowNofile(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	for d := 0; d < 100; d++ {
		dir := filepath.Join(src, fmt.Sprintf("d%d", d))
		os.MkdirAll(dir, 0o755)
		for f := 0; f < 20; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), []byte(fmt.Sprintf("%d %d\n", d, f)), 0o644)
		}
	}
	c.ok("ingest", "-q", src)
	work := t.TempDir()
	// A relative target: two spellings of it are confined.
	cmd := c.cmd()
	cmd.Path, cmd.Args, cmd.Dir = "/bin/sh", []string{"sh", "-c", `ulimit -n 64 && exec "$0" restore latest:"$1" --target out`, c.bin, src}, work
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "too many open files") {
		t.Fatalf("restore under ulimit -n 64: %v\n%.2000s", err, out)
	}
	sameFiles(t, src, filepath.Join(work, "out"))
}
