package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Root without CAP_LINUX_IMMUTABLE (a container's default) may not set
// immutable or append-only. A restore of a snapshot holding a chattr +i
// file then says so once and succeeds with the content, as before inode
// flags were kept, instead of failing with an error per such file.
func TestRestoreImmutableWithoutCapability(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("setpriv (util-linux) is missing")
		}
		t.Skip("setpriv (util-linux) is missing")
	}
	src := smallTmpfs(t, "16m")
	file := filepath.Join(src, "locked")
	if err := os.WriteFile(file, []byte("immutable\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", file).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", file).Run() })
	c := newCLI(t)
	c.ok("ingest", src)
	target := smallTmpfs(t, "16m")
	cmd := exec.Command(setpriv, "--inh-caps=-linux_immutable", "--bounding-set=-linux_immutable", c.bin, "restore", "latest", "--target", target)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	restored := filepath.Join(target, file)
	t.Cleanup(func() { exec.Command("chattr", "-i", restored).Run() })
	if err != nil {
		t.Fatalf("restore without CAP_LINUX_IMMUTABLE: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "CAP_LINUX_IMMUTABLE"); n != 1 {
		t.Errorf("said %d times that the flags need CAP_LINUX_IMMUTABLE:\n%s", n, out)
	}
	if b, err := os.ReadFile(restored); err != nil || string(b) != "immutable\n" {
		t.Fatalf("content not restored: %q, %v", b, err)
	}
}
