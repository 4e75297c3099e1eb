package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// smallTmpfs mounts a tmpfs of size (as mount's size= takes it) on a new
// folder, unmounted when the test ends: a small disk to fill. It needs
// root, which CI has: there it fails rather than skips without it.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test mounts a tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := filepath.Join(t.TempDir(), "disk")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	return mnt
}
