package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A repository on read-only media (an old write-protected disk) can be
// copied from with --no-lock, as in restic: the source is then not locked,
// the destination still is. Without --no-lock copy says why it cannot.
func TestNoLockCopyFromReadOnly(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 50<<10, 9)
	c.ok("ingest", "-q", src)
	ro := readOnlyBind(t, c.repoDir())
	d := newCLI(t)
	from := []string{"--from-repo", ro, "--from-password-file", c.passwordFile()}

	_, stderr, code := d.runErr(append([]string{"copy"}, from...)...)
	if code != 1 || !strings.Contains(stderr, "read-only file system") || !strings.Contains(stderr, "--no-lock copies from it without one") {
		t.Fatalf("copy from a read-only repository: exit %d, stderr %q: want 1 and a pointer to --no-lock", code, stderr)
	}
	d.ok(append([]string{"--no-lock", "copy"}, from...)...)
	dst := t.TempDir()
	d.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)

	// The destination is locked all the same: read-only, it is refused.
	_, stderr, code = c.runErr("--no-lock", "copy", "--from-repo", d.repoDir(), "--from-password-file", d.passwordFile(), "-r", ro)
	if code != 1 || !strings.Contains(stderr, "write lock") {
		t.Fatalf("copy --no-lock into a read-only repository: exit %d, stderr %q: want 1 and the destination's lock error", code, stderr)
	}
	if entries, _ := os.ReadDir(filepath.Join(d.repoDir(), "locks")); len(entries) != 0 {
		t.Fatalf("locks left in the destination: %v", entries)
	}
}
