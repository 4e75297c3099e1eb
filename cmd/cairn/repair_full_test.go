package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// repair index on a disk that fills up before its new index is written
// fails, and does not claim on stdout that packs are "now indexed" and "no
// blob was lost": the old index is still in force. Once there is room, it
// works.
func TestRepairIndexFullDisk(t *testing.T) {
	mnt := smallTmpfs(t, "8m")
	c := newCLIAt(t, filepath.Join(mnt, "repo"))
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 5)
	c.ok("ingest", "-q", src)
	segs, _ := filepath.Glob(filepath.Join(mnt, "repo", "index", "*"))
	for _, s := range segs {
		os.Remove(s)
	}
	// Leave one page: room for the lock, none for an index segment.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	fill, _ := os.Create(filepath.Join(mnt, "fill"))
	if err := syscall.Fallocate(int(fill.Fd()), 0, 0, int64(st.Bavail-1)*st.Bsize); err != nil {
		t.Fatal(err)
	}
	fill.Close()

	out, stderr, code := c.runErr("repair", "index")
	if code != 1 || !strings.Contains(stderr, "no space left on device") {
		t.Fatalf("repair index on a full disk: exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(out, "now indexed") || strings.Contains(out, "no blob was lost") || !strings.Contains(out, "the old index is still in force") {
		t.Fatalf("repair index that failed claims what it did not do:\n%s", out)
	}
	// The same in JSON: a summary saying the new index is not in force,
	// and no pack said to be adopted or dropped.
	out, _, code = c.runErr("--json", "repair", "index")
	if code != 1 || !strings.Contains(out, `"committed":false`) || strings.Contains(out, `"adopted"`) || strings.Contains(out, `"lost_blobs"`) {
		t.Fatalf("repair index --json that failed: exit %d\n%s", code, out)
	}
	os.Remove(filepath.Join(mnt, "fill"))
	if out := c.ok("--json", "repair", "index"); !strings.Contains(out, `"committed":true`) {
		t.Fatalf("repair index --json with room: %s", out)
	}
	// Again, now with nothing to adopt: the text run below still works.
	if out := c.ok("repair", "index"); !strings.Contains(out, "wrote") {
		t.Fatalf("repair index with room: %s", out)
	}
	c.ok("check")
}
