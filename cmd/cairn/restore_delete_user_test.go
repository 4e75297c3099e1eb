package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDeleteThroughSearchOnlyFolderAsUser: a user restores their folder
// in place with --delete where a folder above it lets them through but not
// read it (0711, as /home often is). The delete pass opened every folder
// from the target down for reading, so it deleted nothing, said
// "permission denied" and exited 1.
func TestDeleteThroughSearchOnlyFolderAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	top := filepath.Join(t.TempDir(), "top")
	home := filepath.Join(top, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "doc"), []byte("doc"), 0o644)
	c.ok("ingest", home)
	os.WriteFile(filepath.Join(home, "NOTE"), []byte("pay"), 0o644)
	filepath.WalkDir(home, func(p string, e fs.DirEntry, err error) error {
		os.Lchown(p, 65534, 65534)
		return nil
	})
	shareWithNobody(c, home)
	os.Chmod(top, 0o711)
	cache := t.TempDir()
	os.Chown(cache, 65534, 65534)
	for _, args := range [][]string{{"--dry-run"}, nil} {
		cmd := c.cmd(append([]string{"--no-lock", "restore", "latest", "--target", "/", "--delete"}, args...)...)
		cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(cache, "c"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "1 deleted, 0 errors") {
			t.Errorf("cairn restore --delete %v as nobody: %v; want 1 deleted, 0 errors:\n%s", args, err, out)
		}
	}
	if _, err := os.Lstat(filepath.Join(home, "NOTE")); err == nil {
		t.Error("NOTE, which the snapshot lacks, was not deleted")
	}
	if b, err := os.ReadFile(filepath.Join(home, "doc")); err != nil || string(b) != "doc" {
		t.Errorf("doc: %q, %v", b, err)
	}
}
