package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestReadOnlyTargetKeepsItsModeAsUser: a user restores a snapshot of a
// folder into a target of theirs at 0555. The restore opens the target up
// (u+rwx) to restore into it, and since the folders above the snapshot's
// paths are left as they are, nothing gave it its 0555 back: it stayed
// 0755.
func TestReadOnlyTargetKeepsItsModeAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "doc"), []byte("doc"), 0o644)
	c.ok("ingest", home)
	target := filepath.Join(t.TempDir(), "target")
	os.Mkdir(target, 0o755)
	os.Chown(target, 65534, 65534)
	shareWithNobody(c, target)
	os.Chmod(target, 0o555)
	cache := t.TempDir()
	os.Chown(cache, 65534, 65534)
	cmd := c.cmd("--no-lock", "restore", "latest", "--target", target)
	cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(cache, "c"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cairn restore as nobody: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(target, home, "doc")); err != nil || string(b) != "doc" {
		t.Errorf("doc: %q, %v", b, err)
	}
	if st, err := os.Stat(target); err != nil || st.Mode().Perm() != 0o555 {
		t.Errorf("the target, above the snapshot's path: %v %v; want it left 0555", st.Mode().Perm(), err)
	}
}
