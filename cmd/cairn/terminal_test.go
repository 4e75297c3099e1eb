package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// onPty is a cairn command running with a pseudo-terminal as its
// controlling terminal, in its foreground, as from an interactive shell.
type onPty struct {
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan error
}

func startOnPty(t *testing.T, env []string, args ...string) *onPty {
	t.Helper()
	master, slave := openPty(t)
	p := &onPty{cmd: exec.Command(cairnBinary(t), args...), master: master, done: make(chan error, 1)}
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.Env = append(os.Environ(), append([]string{"TERM=xterm-256color"}, env...)...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go func() { p.done <- p.cmd.Wait() }()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

func (p *onPty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait returns the command's exit code, failing the test if it has not
// ended within d.
func (p *onPty) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		p.cmd.Process.Kill()
		t.Fatalf("cairn %s did not end within %v; terminal: %q", strings.Join(p.cmd.Args[1:], " "), d, p.output())
		return -1
	}
}

func waitForFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear within %v", path, d)
}

// TestStdinCommandOnTerminal runs ingest --stdin-from-command from an
// interactive terminal. A command that asks something on the terminal
// (sudo's or ssh's password prompt, pg_dump -W) gets its answer: in a
// process group of its own, a background one, it was stopped by SIGTTIN
// as it read and cairn waited for it forever. Ctrl-C still stops the
// ingest at once, even while something the command started holds the
// pipe open and ignores the interrupt.
func TestStdinCommandOnTerminal(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"CAIRN_REPOSITORY=" + filepath.Join(dir, "repo"), "CAIRN_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"CAIRN_PASSWORD_FILE=" + pw, "HOME=" + dir}
	bin := cairnBinary(t)
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	if out, err := exec.Command(bin, "init", "--insecure-kdf").CombinedOutput(); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}

	asked := filepath.Join(dir, "asked")
	p := startOnPty(t, nil, "ingest", "-q", "--stdin-name", "answer.txt", "--stdin-from-command", "--",
		"sh", "-c", `touch "$1"; read x </dev/tty; echo "got $x"`, "sh", asked)
	waitForFile(t, asked, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	if _, err := p.master.Write([]byte("secret\n")); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("ingest exited %d; terminal: %q", code, p.output())
	}
	out, err := exec.Command(bin, "dump", "latest:answer.txt").Output()
	if err != nil || string(out) != "got secret\n" {
		t.Fatalf("dump: %v %q", err, out)
	}

	// Ctrl-C: exit 130 at once, no snapshot, though a process the command
	// started ignores SIGINT and keeps the pipe open.
	started := filepath.Join(dir, "started")
	p = startOnPty(t, nil, "ingest", "-q", "--stdin-name", "int.txt", "--stdin-from-command", "--",
		"sh", "-c", `(trap "" INT; exec sleep 60) & echo data; touch "$1"; wait`, "sh", started)
	waitForFile(t, started, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	if _, err := p.master.Write([]byte{3}); err != nil { // ^C
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != exitInterrupted {
		t.Fatalf("interrupted ingest exited %d; terminal: %q", code, p.output())
	}
	out, err = exec.Command(bin, "snapshots", "--json").Output()
	if err != nil || strings.Count(string(out), `"id"`) != 1 {
		t.Fatalf("snapshots after the interrupt: %v %s", err, out)
	}
}

// TestEmptyPasswordOnTerminal: Enter alone at the password prompt exits
// 12 (wrong password, an empty one included, as cairn help says and as
// an empty password file or command does), not 1; init still refuses an
// empty new password.
func TestEmptyPasswordOnTerminal(t *testing.T) {
	dir, env := promptedRepo(t)
	enter := func(p *onPty) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); !strings.Contains(p.output(), "password"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("no prompt; terminal: %q", p.output())
			}
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := p.master.Write([]byte("\r")); err != nil {
			t.Fatal(err)
		}
	}
	p := startOnPty(t, env, "snapshots")
	enter(p)
	if code := p.wait(t, 30*time.Second); code != exitWrongPass {
		t.Errorf("snapshots with an empty password typed exited %d, want %d; terminal: %q", code, exitWrongPass, p.output())
	}
	p = startOnPty(t, env, "init", "--insecure-kdf", "-r", filepath.Join(dir, "repo2"))
	enter(p)
	enter(p)
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Errorf("init with an empty password typed exited %d, want 1; terminal: %q", code, p.output())
	}
	if _, err := os.Stat(filepath.Join(dir, "repo2", "config")); err == nil {
		t.Error("init made a repository with an empty password")
	}
}

// TestTUIStopsOnSignal: kill (SIGTERM) or SIGINT from outside ends cairn
// tui with exit 130 and the terminal given back. Both bubbletea's own
// signal handler and cairn's caught the signal: cairn's ended the event
// loop through the context while bubbletea's waited forever to send it a
// QuitMsg, so the process hung in raw mode until a second signal killed
// it without restoring the terminal.
func TestTUIStopsOnSignal(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"CAIRN_REPOSITORY=" + filepath.Join(dir, "repo"), "CAIRN_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"CAIRN_PASSWORD_FILE=" + pw, "HOME=" + dir}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	if out, err := exec.Command(cairnBinary(t), "init", "--insecure-kdf").CombinedOutput(); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	// The hang was a race: try a few times.
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM, syscall.SIGTERM} {
		p := startOnPty(t, nil, "tui")
		for end := time.Now().Add(30 * time.Second); !strings.Contains(p.output(), "no snapshots"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("no first screen; terminal: %q", p.output())
			}
		}
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t, 15*time.Second); code != exitInterrupted {
			t.Fatalf("try %d: cairn tui got %v and exited %d, want %d; terminal: %q", i, sig, code, exitInterrupted, p.output())
		}
		// The terminal's last bytes may still be on their way from the
		// pty when the process has exited.
		for end := time.Now().Add(5 * time.Second); !strings.Contains(p.output(), "\x1b[?1049l"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("try %d: the alternate screen was not left; terminal: %q", i, p.output())
			}
		}
	}
}

// TestCtrlDAtPasswordPrompt: Ctrl-D at an empty password prompt ends
// cairn with exit 1 and says no password was typed, instead of being
// ignored while cairn went on waiting; Ctrl-D after some characters ends
// the password there (the second Ctrl-D, as for cat).
func TestCtrlDAtPasswordPrompt(t *testing.T) {
	_, env := promptedRepo(t)
	typeAt := func(p *onPty, prompts int, s string) {
		t.Helper()
		for end := time.Now().Add(30 * time.Second); strings.Count(p.output(), "password") < prompts; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("no prompt; terminal: %q", p.output())
			}
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := p.master.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	said := func(p *onPty, s string) bool {
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(p.output(), s) {
				return true
			}
		}
		return false
	}
	p := startOnPty(t, env, "snapshots", "--json")
	typeAt(p, 1, "\x04")
	if code := p.wait(t, 30*time.Second); code != 1 || !said(p, "no password typed") {
		t.Errorf("Ctrl-D at the prompt: exit %d, want 1 saying no password was typed; terminal: %q", code, p.output())
	}
	p = startOnPty(t, env, "snapshots", "--json")
	// The first Ctrl-D hands the terminal's line over, the second is the
	// end of input, as for cat.
	typeAt(p, 1, "pw\x04")
	time.Sleep(100 * time.Millisecond)
	typeAt(p, 1, "\x04")
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("pw then Ctrl-D twice at the prompt: exit %d, want 0; terminal: %q", code, p.output())
	}
	p = startOnPty(t, env, "key", "add", "--insecure-kdf")
	typeAt(p, 1, "pw\r")
	typeAt(p, 2, "\x04")
	if code := p.wait(t, 30*time.Second); code != 1 || !said(p, "no password typed") {
		t.Errorf("Ctrl-D at the new password prompt: exit %d, want 1 saying no password was typed; terminal: %q", code, p.output())
	}
}

// promptedRepo makes a repository with the password "pw" in a new folder
// dir, and returns dir and the environment of a command that must ask
// for the password at the terminal (no password source set).
func promptedRepo(t *testing.T) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = []string{"CAIRN_REPOSITORY=" + filepath.Join(dir, "repo"), "CAIRN_CACHE_DIR=" + filepath.Join(dir, "cache"), "HOME=" + dir,
		"CAIRN_PASSWORD_FILE=", "CAIRN_PASSWORD_COMMAND=", "CAIRN_PASSWORD="}
	init := exec.Command(cairnBinary(t), "init", "--insecure-kdf")
	init.Env = append(os.Environ(), append(env, "CAIRN_PASSWORD_FILE="+pw)...)
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	return dir, env
}
