package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A repository on a full disk (a USB disk the backups filled) cannot take
// even a shared lock: the commands that only read it say so and point to
// --no-lock, as on read-only storage, and with it list and restore.
func TestNoLockHintFullDisk(t *testing.T) {
	mnt := smallTmpfs(t, "4m")
	c := newCLIAt(t, filepath.Join(mnt, "repo"))
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 5)
	c.ok("ingest", "-q", src)
	fill, _ := os.Create(filepath.Join(mnt, "fill"))
	fill.Write(make([]byte, 8<<20))
	fill.Close()

	for _, args := range [][]string{{"snapshots"}, {"restore", "latest", "--target", t.TempDir()}} {
		stderr, code := c.stderrOf(args...)
		if code != 1 || !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "--no-lock reads without one") {
			t.Fatalf("cairn %v on a full disk: exit %d, stderr %q: want 1 and a pointer to --no-lock", args, code, stderr)
		}
	}
	if out := c.ok("--no-lock", "snapshots"); !strings.Contains(out, "1 snapshot") {
		t.Fatalf("snapshots --no-lock: %q", out)
	}
	dst := t.TempDir()
	c.ok("--no-lock", "restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
}
