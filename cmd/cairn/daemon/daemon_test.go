package daemon

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFramesRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (3*maxFrame)/16+7)
	for _, verdict := range []string{"", "command false failed (exit status 1): no snapshot written"} {
		var buf bytes.Buffer
		fw := &frameWriter{w: &buf}
		if _, err := fw.Write(data); err != nil {
			t.Fatal(err)
		}
		fw.end(StreamEnd{Error: verdict})
		fr := &frameReader{r: bufio.NewReader(&buf)}
		got, err := io.ReadAll(fr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
		}
		if fr.end == nil || fr.end.Error != verdict {
			t.Fatalf("verdict %+v, want %q", fr.end, verdict)
		}
	}
}

// A stream cut off before its end frame is an error, never an EOF that
// would let an ingest commit a truncated file.
func TestFramesCutOff(t *testing.T) {
	var buf bytes.Buffer
	(&frameWriter{w: &buf}).Write([]byte("partial data"))
	for _, n := range []int{0, 3, 8, buf.Len()} {
		fr := &frameReader{r: bufio.NewReader(bytes.NewReader(buf.Bytes()[:n]))}
		_, err := io.ReadAll(fr)
		if !errors.Is(err, errCutOff) {
			t.Fatalf("cut at %d: %v, want errCutOff", n, err)
		}
	}
}

func TestSameRepository(t *testing.T) {
	wd, _ := os.Getwd()
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"/srv/backup", "/srv/backup/", true},
		{"/srv/backup", "local:/srv/backup", true},
		{"/srv/../srv/backup", "/srv/backup", true},
		{"repo", filepath.Join(wd, "repo"), true},
		{"/srv/backup", "/srv/backup2", false},
		{"s3:http://h/b", "s3:http://h/b", true},
		{"s3:http://h/b", "s3:http://h/b/", false},
	} {
		if got := SameRepository(c.a, c.b); got != c.same {
			t.Errorf("SameRepository(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestSocketPath(t *testing.T) {
	t.Setenv("CAIRN_SOCKET", "")
	if got := SocketPath(""); got != DefaultSocket {
		t.Errorf("default: %s", got)
	}
	t.Setenv("CAIRN_SOCKET", "/tmp/env.sock")
	if got := SocketPath(""); got != "/tmp/env.sock" {
		t.Errorf("env: %s", got)
	}
	if got := SocketPath("/tmp/flag.sock"); got != "/tmp/flag.sock" {
		t.Errorf("flag: %s", got)
	}
}

// sd_notify reaches a socket named by path and an abstract one.
func TestNotify(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@cairn-test-notify-" + filepath.Base(t.TempDir())} {
		conn, err := ListenUnixgram(name)
		if err != nil {
			t.Fatal(err)
		}
		n := &notifier{addr: name}
		n.send("READY=1", "STATUS=up")
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 256)
		k, err := conn.Read(buf)
		conn.Close()
		if err != nil || string(buf[:k]) != "READY=1\nSTATUS=up\n" {
			t.Fatalf("%s: got %q (%v)", name, buf[:k], err)
		}
	}
	(&notifier{}).send("READY=1") // no socket: nothing, no panic
}

func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	if _, ok := watchdogInterval(); ok {
		t.Error("watchdog without WATCHDOG_USEC")
	}
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", "")
	if d, ok := watchdogInterval(); !ok || d != 2*time.Second {
		t.Errorf("interval %v %v, want 2s", d, ok)
	}
	t.Setenv("WATCHDOG_PID", "1")
	if _, ok := watchdogInterval(); ok && os.Getpid() != 1 {
		t.Error("watchdog meant for another process")
	}
}

func TestAccess(t *testing.T) {
	a := newAccess(&Config{AllowUIDs: []int{1234}})
	for _, c := range []struct {
		p  peer
		ok bool
	}{
		{peer{uid: 0}, true},
		{peer{uid: os.Getuid()}, true},
		{peer{uid: 1234}, true},
		{peer{uid: 65534, gid: 65534}, false},
		{peer{uid: -1, err: errors.New("no credentials")}, false},
	} {
		if got := a.allowed(c.p); got != c.ok {
			t.Errorf("allowed(%+v) = %v", c.p, got)
		}
	}
}

// A hook that outlives its timeout is killed with its whole process
// group, and its output reaches the log.
func TestHookTimeout(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, strings.TrimSpace(strings.ReplaceAll(format, "%s", "")+" "+args[0].(string)+" "+string(args[1].([]byte))))
	}
	// Long enough for the shell to start and print on a loaded machine.
	const timeout = 2 * time.Second
	start := time.Now()
	err := runHook(context.Background(), Hook{Command: Command{"/bin/sh", "-c", "echo started; sleep 30 & wait"}, Timeout: Duration(timeout)}, nil, logf, "hook")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > timeout+5*time.Second {
		t.Fatalf("took %v: the group was not killed", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 1 || !strings.Contains(lines[0], "started") {
		t.Fatalf("log: %q", lines)
	}
}

// The runner never runs a source twice at once: requests while it runs
// make one more run, not several.
func TestRunnerCoalesces(t *testing.T) {
	d := &Daemon{logf: t.Logf}
	d.work, d.cancelWork = context.WithCancel(context.Background())
	defer d.cancelWork()
	r := &runner{d: d, jobs: map[string]*job{}, limit: 2, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	release := make(chan struct{})
	var mu sync.Mutex
	runs, running, most := 0, 0, 0
	r.runFn = func(kind jobKind, name string, src Source, _ *watch) RunResult {
		mu.Lock()
		runs++
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return RunResult{Source: name, Outcome: OutcomeSuccess}
	}
	r.jobs["a"] = &job{name: "a", kind: kindSource}
	first, _ := r.request("a")
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return runs == 1 })
	var later []<-chan RunResult
	for range 5 {
		ch, err := r.request("a")
		if err != nil {
			t.Fatal(err)
		}
		later = append(later, ch)
	}
	release <- struct{}{}
	<-first
	release <- struct{}{}
	for _, ch := range later {
		<-ch
	}
	if runs != 2 || most != 1 {
		t.Fatalf("%d runs, at most %d at once; want 2 and 1", runs, most)
	}
	if _, err := r.request("nope"); !errors.Is(err, errUnknownSource) {
		t.Fatalf("unknown source: %v", err)
	}
	r.stop()
	r.wait()
	if _, err := r.request("a"); !errors.Is(err, errStopping) {
		t.Fatalf("after stop: %v", err)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
