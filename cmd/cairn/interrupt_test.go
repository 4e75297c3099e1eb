package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondInterruptStopsAtOnce: a command stuck while stopping after a
// first Ctrl-C (here a dump whose stdout pipe is full and never read) stops
// at once on a second one, as restic does, with exit 130, its lock
// removed and the repository still sound. Before, the second did nothing
// and only SIGKILL ended it.
func TestSecondInterruptStopsAtOnce(t *testing.T) {
	c := newCLI(t)
	src := t.TempDir()
	writeRandomFiles(t, src, 1, 4<<20, 7)
	c.ok("ingest", src)
	names, _ := filepath.Glob(filepath.Join(src, "*"))
	if len(names) != 1 {
		t.Fatalf("source files: %v", names)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close() // never read: the dump blocks on its full stdout
	var stderr bytes.Buffer
	cmd := c.cmd("dump", "latest", names[0])
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()

	locks := func() []string {
		l, _ := filepath.Glob(filepath.Join(c.repoDir(), "locks", "*"))
		return l
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(locks()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("dump took no lock within 20 s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the pipe fills up

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		t.Fatalf("dump stopped on the first interrupt (exit %d): nothing to test; stderr: %s", cmd.ProcessState.ExitCode(), stderr.String())
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("dump still running 10 s after a second interrupt")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d after a second interrupt, want %d; stderr: %s", code, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted: %q", stderr.String())
	}
	if l := locks(); len(l) != 0 {
		t.Errorf("lock left behind: %v", l)
	}
	c.ok("check")
}
