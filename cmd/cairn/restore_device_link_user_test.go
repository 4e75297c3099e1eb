package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRestoreLinkedDeviceAsUser: a user (not root) restores a snapshot
// holding a hardlinked device node, which no name can be made of. Each
// name says so (mknod: operation not permitted), rather than the first
// saying it and every other one being reported as a failed link to a
// file that is not there.
func TestRestoreLinkedDeviceAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to make a device node and run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "x"), 0o755)
	if err := syscall.Mknod(filepath.Join(src, "a"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "x", "b")); err != nil {
		t.Fatal(err)
	}
	c.ok("ingest", src)

	shareWithNobody(c)
	home := t.TempDir()
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := c.cmd("--no-lock", "restore", "latest:"+src, "--target", filepath.Join(home, "restored"))
	cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(home, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("restore of device nodes as nobody succeeded:\n%s", out)
	}
	if strings.Contains(string(out), "hardlink to") || strings.Count(string(out), "operation not permitted") != 2 {
		t.Fatalf("want one mknod error per name, no link error:\n%s", out)
	}
}
