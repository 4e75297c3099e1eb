package repo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A run that used a private local index and was killed (a timer's stop
// timeout, the OOM killer) left its folder, a full copy of the index, in
// the temporary folder for good: 190 of them were found on one machine.
// The next private index removes the folders of processes that are gone,
// and only those.
func TestSweepPrivateCaches(t *testing.T) {
	tmp := t.TempDir()
	ns := privateCacheMark()
	if ns == "0-0" {
		if os.Getenv("CI") == "true" {
			t.Fatal("cannot read this process's PID namespace or boot")
		}
		t.Skip("cannot read this process's PID namespace or boot")
	}
	pidns := pidNamespaceNumber()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	running := exec.Command("sleep", "60")
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { running.Process.Kill(); running.Wait() }()
	dead, alive := gone.Process.Pid, running.Process.Pid

	mk := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(p, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "index.db"), []byte("index"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leftover := mk(fmt.Sprintf("cairn-cache-%d-%s-123", dead, ns))
	keep := []string{
		mk(fmt.Sprintf("cairn-cache-%d-%s-456", alive, ns)),                 // in use
		mk(fmt.Sprintf("cairn-cache-%d-%s-789", os.Getpid(), ns)),           // this process's
		mk(fmt.Sprintf("cairn-cache-%d-1-%s-123", dead, ns[len(pidns)+1:])), // another PID namespace
		// Another machine sharing the temporary folder (a TMPDIR on NFS):
		// the same initial PID namespace number, another boot.
		mk(fmt.Sprintf("cairn-cache-%d-%s-0123456789abcdef0123456789abcdef-123", dead, pidns)),
		mk(fmt.Sprintf("cairn-cache-%d-%s-123", dead, pidns)), // no boot: unknown
		mk("cairn-cache-123456"), // older name: whose is unknown
		mk(fmt.Sprintf("other-%d-%s-1", dead, ns)),
	}
	target := mk("target")
	link := filepath.Join(tmp, fmt.Sprintf("cairn-cache-%d-%s-link", dead, ns))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, link, filepath.Join(target, "index.db"))

	sweepPrivateCaches(tmp)
	if _, err := os.Lstat(leftover); !os.IsNotExist(err) {
		t.Errorf("the folder of a process that is gone is still there (%v)", err)
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
}
