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

// stuckDump starts a dump of a 4 MiB file whose stdout pipe is never
// read, and returns once it holds its lock and the pipe is full: a command
// that a first interrupt cannot stop. done closes when it has exited; the
// test's end kills it.
func stuckDump(t *testing.T, c *cli) (*exec.Cmd, chan struct{}, *bytes.Buffer) {
	t.Helper()
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
	t.Cleanup(func() { r.Close() }) // never read: the dump blocks on its full stdout
	stderr := &bytes.Buffer{}
	cmd := c.cmd("dump", "latest", names[0])
	cmd.Stdout, cmd.Stderr = w, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	deadline := time.Now().Add(20 * time.Second)
	for l, _ := filepath.Glob(filepath.Join(c.repoDir(), "locks", "*")); len(l) == 0; l, _ = filepath.Glob(filepath.Join(c.repoDir(), "locks", "*")) {
		if time.Now().After(deadline) {
			t.Fatalf("dump took no lock within 20 s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the pipe fills up
	return cmd, done, stderr
}

// TestSecondInterruptStopsAtOnce: a command stuck while stopping after a
// first Ctrl-C (here a dump whose stdout pipe is full and never read) stops
// at once on a second one, as restic does, with exit 130, its lock
// removed and the repository still sound. Before, the second did nothing
// and only SIGKILL ended it.
func TestSecondInterruptStopsAtOnce(t *testing.T) {
	c := newCLI(t)
	cmd, done, stderr := stuckDump(t, c)
	locks := func() []string {
		l, _ := filepath.Glob(filepath.Join(c.repoDir(), "locks", "*"))
		return l
	}

	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		t.Fatalf("dump stopped on the first interrupt (exit %d): nothing to test; stderr: %s", cmd.ProcessState.ExitCode(), stderr.String())
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	endsInterrupted(t, cmd, done, stderr, "dump still running", "a second interrupt")
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted: %q", stderr.String())
	}
	if l := locks(); len(l) != 0 {
		t.Errorf("lock left behind: %v", l)
	}
	c.ok("check")
}

// TestSlowStopIsSaid: a command that does not stop within a second of an
// interrupt (held up by a source that does not answer, a full pipe) says
// that it is stopping and how to stop it at once. Before, nothing showed
// that the interrupt was heard.
func TestSlowStopIsSaid(t *testing.T) {
	c := newCLI(t)
	cmd, done, stderr := stuckDump(t, c)
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
		t.Fatalf("dump stopped on the first interrupt (exit %d): nothing to test; stderr: %s", cmd.ProcessState.ExitCode(), stderr.String())
	case <-time.After(stoppingNoticeAfter + 1500*time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGINT)
	endsInterrupted(t, cmd, done, stderr, "dump still running", "a second interrupt")
	if !strings.Contains(stderr.String(), "cairn: stopping: waiting for what is under way to end (interrupt a second time to stop at once)\n") {
		t.Errorf("stderr does not say it is stopping: %q", stderr.String())
	}
}

// TestIngestOutputClosed: an ingest whose reader went away before it
// printed anything (`cairn ingest --json DIR | head -1`, a logger that
// died) still saves its snapshot and then exits 141, so that 141 from
// ingest always means "saved, output cut". Before, it stopped at its
// first write and saved nothing, or saved the snapshot when the write came
// late enough, with the same 141 either way.
func TestIngestOutputClosed(t *testing.T) {
	c := newCLI(t)
	src := t.TempDir()
	writeRandomFiles(t, src, 20, 1<<20, 9)
	for _, args := range [][]string{{"ingest", "--json", src}, {"ingest", src}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first write
		var stderr bytes.Buffer
		cmd := c.cmd(args...)
		cmd.Stdout, cmd.Stderr = w, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("cairn %v still running after 60 s", args)
		}
		if code := cmd.ProcessState.ExitCode(); code != exitBrokenPipe {
			t.Fatalf("cairn %v: exit %d, want %d; stderr: %s", args, code, exitBrokenPipe, stderr.String())
		}
		if stderr.Len() != 0 {
			t.Errorf("cairn %v: stderr %q, want nothing", args, stderr.String())
		}
		os.WriteFile(filepath.Join(src, "changed"), []byte(strings.Join(args, " ")), 0o644)
	}
	out := c.ok("snapshots", "--json")
	if n := strings.Count(out, `"id"`); n != 2 {
		t.Fatalf("%d snapshots saved by the two ingests whose output was closed, want 2: %s", n, out)
	}
	if l, _ := filepath.Glob(filepath.Join(c.repoDir(), "locks", "*")); len(l) != 0 {
		t.Errorf("lock left behind: %v", l)
	}
}

// TestInterruptWhilePasswordCommandRuns: SIGTERM while the password
// command has not answered (a secret store waiting on the network) stops
// cairn with exit 130. Before, it waited for the command to end and then
// reported a wrong password (exit 12).
func TestInterruptWhilePasswordCommandRuns(t *testing.T) {
	c := newCLI(t)
	var stderr bytes.Buffer
	cmd := c.cmd("--password-command", "sleep 30", "snapshots")
	cmd.Env = append(cmd.Env, "CAIRN_PASSWORD_FILE=")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	endsInterrupted(t, cmd, done, &stderr, "cairn still waiting for the password command", "SIGTERM")
}

// TestCtrlCAtPasswordPrompt: Ctrl-C at the password prompt stops cairn at
// once with exit 130 and the terminal's echo back on. Before, it did
// nothing until Enter was pressed.
func TestCtrlCAtPasswordPrompt(t *testing.T) {
	c := newCLI(t)
	master, slave := openPty(t)
	cmd := c.cmd("snapshots")
	cmd.Env = append(cmd.Env, "CAIRN_PASSWORD_FILE=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cmd.Process.Kill(); <-done }()
	prompted := make(chan struct{})
	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			if strings.Contains(out.String(), "enter password") {
				once.Do(func() { close(prompted) })
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-prompted:
	case <-time.After(20 * time.Second):
		t.Fatal("no password prompt within 20 s")
	}
	time.Sleep(200 * time.Millisecond) // echo turned off
	master.Write([]byte{3})            // Ctrl-C
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("cairn still at the password prompt 5 s after Ctrl-C")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("exit %d, want %d; output: %q", code, exitInterrupted, out.String())
	}
	tio, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Lflag&unix.ECHO == 0 {
		t.Error("the terminal's echo is still off after cairn stopped")
	}
}

// TestInterruptWhileFilesFromStdinWaits: Ctrl-C while ingest --files-from -
// waits for a list that has not come (a find still running, a terminal)
// stops it with exit 130. Before, the first one was ignored until standard
// input ended.
func TestInterruptWhileFilesFromStdinWaits(t *testing.T) {
	c := newCLI(t)
	for _, flag := range []string{"--files-from", "--files-from-raw", "--files-from-verbatim"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := c.cmd("ingest", flag, "-")
		cmd.Stdin, cmd.Stderr = r, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		time.Sleep(time.Second)
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
			w.Close()
			t.Fatalf("ingest %s - still waiting for standard input 5 s after Ctrl-C", flag)
		}
		w.Close()
		if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
			t.Fatalf("ingest %s -: exit %d, want %d; stderr: %s", flag, code, exitInterrupted, stderr.String())
		}
	}
}

// TestSecondHangupStopsCleanly: a terminal or ssh session that goes away
// sends SIGHUP twice (the shell to its jobs, then the kernel to the
// foreground group once the shell exits). Nobody asked twice: the clean
// stop goes on (a mount unmounted, what was stored indexed), where the
// second hangup used to end cairn at once. A Ctrl-C after them still does.
func TestSecondHangupStopsCleanly(t *testing.T) {
	c := newCLI(t)
	cmd, done, stderr := stuckDump(t, c)

	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond) // two signals, not one coalesced
	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-done:
		t.Fatalf("dump ended on two hangups (exit %d), as on a second Ctrl-C; stderr: %s", cmd.ProcessState.ExitCode(), stderr.String())
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	endsInterrupted(t, cmd, done, stderr, "dump still running", "a Ctrl-C following the hangups")
}

// TestDoubledSignalStopsCleanly: GNU timeout sends its SIGTERM to the
// command and then to its own process group, so `timeout 2h cairn ingest`
// gets two at once. That is one request: the ingest stops cleanly (exit
// 130, lock removed), not as after a second Ctrl-C. Before, it said
// "interrupted again: stopped at once without finishing".
func TestDoubledSignalStopsCleanly(t *testing.T) {
	c := newCLI(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var stderr bytes.Buffer
	cmd := c.cmd("ingest", "--stdin", "--stdin-name", "slow.txt")
	cmd.Stdin, cmd.Stderr = r, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	w.Write([]byte("some data\n"))
	deadline := time.Now().Add(20 * time.Second)
	for l, _ := filepath.Glob(filepath.Join(c.repoDir(), "locks", "*")); len(l) == 0; l, _ = filepath.Glob(filepath.Join(c.repoDir(), "locks", "*")) {
		if time.Now().After(deadline) {
			t.Fatalf("ingest took no lock within 20 s: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ingest still running 20 s after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitInterrupted, stderr.String())
	}
	if strings.Contains(stderr.String(), "again") {
		t.Errorf("a doubled SIGTERM was taken as a second interrupt: %q", stderr.String())
	}
	if l, _ := filepath.Glob(filepath.Join(c.repoDir(), "locks", "*")); len(l) != 0 {
		t.Errorf("lock left behind: %v", l)
	}
}

// TestDoubledSignalIsOneRequest: two SIGTERMs sent back to back usually
// reach cairn as one (the kernel and Go's signal queue merge a signal
// still pending), so TestDoubledSignalStopsCleanly passes whether or not
// the second is taken as a request of its own. Here the second comes 50
// ms after the first, once the first was taken, and the command is stuck
// while stopping (a dump whose stdout is never read): it must not be
// stopped at once. A SIGINT later still does that.
func TestDoubledSignalIsOneRequest(t *testing.T) {
	c := newCLI(t)
	cmd, done, stderr := stuckDump(t, c)

	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(50 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		t.Fatalf("dump ended on a doubled SIGTERM (exit %d), as on a second Ctrl-C; stderr: %s", cmd.ProcessState.ExitCode(), stderr.String())
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGINT)
	endsInterrupted(t, cmd, done, stderr, "dump still running", "a Ctrl-C following the doubled SIGTERM")
}

// endsInterrupted waits up to 10 s for cmd (done closes when it has
// exited) and requires exit 130: what is still going on (what) 10 s after
// the signal (after) is the failure.
func endsInterrupted(t *testing.T, cmd *exec.Cmd, done <-chan struct{}, stderr fmt.Stringer, what, after string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s 10 s after %s", what, after)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d after %s, want %d; stderr: %s", code, after, exitInterrupted, stderr.String())
	}
}
