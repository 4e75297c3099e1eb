package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestNoTerminalQuery runs cairn version on a terminal that never answers
// (script(1), docker run -t, a CI job recording a pty): cairn must print
// only its version, not the OSC 11 background colour and cursor position
// queries bubbletea's init sent, and must not wait 5 s for their answer.
func TestNoTerminalQuery(t *testing.T) {
	bin := cairnBinary(t)
	master, slave := openPty(t)
	cmd := exec.Command(bin, "version")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	// The terminal is the command's controlling terminal and it is in the
	// foreground, as in an interactive shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				close(read)
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cairn version: %v", err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("cairn version did not end")
	}
	master.SetReadDeadline(time.Now().Add(2 * time.Second))
	select {
	case <-read:
	case <-time.After(5 * time.Second):
	}
	got := out.String()
	if bytes.ContainsRune(out.Bytes(), 0x1b) {
		t.Errorf("cairn version wrote escape sequences to the terminal: %q", got)
	}
	if !bytes.Contains(out.Bytes(), []byte("cairn "+version)) {
		t.Errorf("cairn version printed %q", got)
	}
}
