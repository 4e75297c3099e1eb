package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
)

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonProc is a `cairn daemon` started by a test.
type daemonProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  *syncBuffer
	sock string
	done chan struct{}
	err  error
}

// startDaemon runs cairn daemon with the config at cfgPath and waits for
// its socket to answer.
func startDaemon(t *testing.T, c *cli, cfgPath, sock string, env ...string) *daemonProc {
	t.Helper()
	cmd := c.cmd("daemon", "--config", cfgPath)
	cmd.Env = append(cmd.Env, env...)
	return launchDaemon(t, cmd, sock)
}

func launchDaemon(t *testing.T, cmd *exec.Cmd, sock string) *daemonProc {
	t.Helper()
	d := &daemonProc{t: t, cmd: cmd, log: &syncBuffer{}, sock: sock, done: make(chan struct{})}
	if d.cmd.Stderr == nil { // else the test reads it
		d.cmd.Stderr, d.cmd.Stdout = d.log, d.log
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() || strings.Contains(d.log.String(), "panic") {
			t.Errorf("daemon log:\n%s", d.log.String())
		}
	})
	cl := daemon.NewClient(sock)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := cl.Info(context.Background(), time.Second); err == nil {
			break
		}
		select {
		case <-d.done:
			t.Fatalf("cairn daemon exited at start (%v):\n%s", d.err, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cairn daemon did not answer on %s within 20 s:\n%s", sock, d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// waitLog waits for the daemon's log to match re.
func (d *daemonProc) waitLog(re string, within time.Duration) string {
	d.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(within)
	for {
		if m := rx.FindString(d.log.String()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("the daemon's log did not show %q within %v:\n%s", re, within, d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and returns the exit code.
func (d *daemonProc) stop(sig syscall.Signal, within time.Duration) int {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(within):
		d.t.Fatalf("cairn daemon still running %v after %v:\n%s", within, sig, d.log.String())
	}
	if ee, ok := d.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// socketDir makes a folder for a control socket that every user may
// reach (t.TempDir's are root-only), so that the refusal of another uid
// is the daemon's doing.
func socketDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "cairn-sock-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeRandomFile(t *testing.T, path string, size int64, seed byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{seed})
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, int64(len(buf)))
		rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		size -= n
	}
}

// snapshotsOf lists the snapshots (through whichever way c goes).
func snapshotsOf(t *testing.T, c *cli, source string) []snapshotJSON {
	t.Helper()
	var list []snapshotJSON
	out := c.ok("snapshots", "--json", "--source", source)
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("snapshots --json: %v: %s", err, out)
	}
	return list
}

// notifyListener is a NOTIFY_SOCKET as systemd offers it.
func notifyListener(t *testing.T) (string, *syncBuffer) {
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := daemon.ListenUnixgram(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := &syncBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got.Write(append(buf[:n:n], '|'))
		}
	}()
	return path, got
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDaemon starts a real daemon with a config that uses every feature,
// and drives it as scripts and operators would.
func TestDaemon(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeRandomFiles(t, src, 3, 50_000, 7)
	mnt := filepath.Join(work, "mnt")
	os.Mkdir(mnt, 0o755)
	hooks := filepath.Join(work, "hooks.log") // quoted in the hooks: TMPDIR may hold spaces
	sock := filepath.Join(socketDir(t), "cairn.sock")
	port := freePort(t)
	cfgPath := filepath.Join(work, "cairn.yaml")
	config := fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
host: testhost
socket: %s
concurrency: 2
stop_timeout: 5s
sources:
  - name: files
    paths: [%s]
    schedule: 2s
    before:
      - command: "echo before1 $CAIRN_SOURCE >> %[6]s"
      - command: [/bin/sh, -c, "echo before2 $CAIRN_SOURCE >> %[6]s"]
    after:
      - command: "echo \"after $CAIRN_SOURCE $CAIRN_OUTCOME $CAIRN_EXIT_CODE $CAIRN_SNAPSHOT_ID $CAIRN_ADDED_BYTES $CAIRN_DURATION_SECONDS\" >> %[6]s"
    retention:
      keep_last: 2
  - name: broken
    paths: [%[5]s]
    before:
      - command: "echo broken-before >> %[6]s; exit 7"
      - command: "echo never >> %[6]s"
    after:
      - command: "echo \"after $CAIRN_SOURCE $CAIRN_OUTCOME $CAIRN_EXIT_CODE [$CAIRN_ERROR] [$CAIRN_SNAPSHOT_ID]\" >> %[6]s"
  - name: db
    command: "printf 'dump of the database'"
    stdin_name: db.sql
    tags: [db]
check:
  schedule: 1h
prune:
  schedule: 1d
mount:
  path: %[7]s
metrics:
  listen: 127.0.0.1:%[8]d
`, c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, src, shellQuote(hooks), mnt, port)
	os.WriteFile(cfgPath, []byte(config), 0o600)

	notify, notes := notifyListener(t)
	d := startDaemon(t, c, cfgPath, sock, "NOTIFY_SOCKET="+notify, "WATCHDOG_USEC=400000")
	c.env = append(c.env, "CAIRN_SOCKET="+sock)
	t.Cleanup(func() {
		if mounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})

	// sd_notify: ready once the socket and the mount are up.
	waitFor(t, "READY=1 on NOTIFY_SOCKET", 30*time.Second, func() bool { return strings.Contains(notes.String(), "READY=1") })
	if !mounted(mnt) {
		t.Fatal("READY=1 before the mount was up")
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	t.Run("scheduled runs, hooks in order, retention", func(t *testing.T) {
		re := regexp.MustCompile(`(?m)^after files success 0 ([0-9a-f]{64}) (\d+) ([0-9.]+)$`)
		waitFor(t, "three scheduled runs of files", 60*time.Second, func() bool {
			b, _ := os.ReadFile(hooks)
			return len(re.FindAllString(string(b), -1)) >= 3
		})
		b, _ := os.ReadFile(hooks)
		var filesLines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasSuffix(l, " files") || strings.HasPrefix(l, "after files") {
				filesLines = append(filesLines, l)
			}
		}
		if len(filesLines) < 3 || filesLines[0] != "before1 files" || filesLines[1] != "before2 files" || !re.MatchString(filesLines[2]) {
			t.Fatalf("hooks ran out of order or without their environment:\n%s", b)
		}
		// Retention keeps 2 of files' snapshots (a run may be between
		// its ingest and its retention: wait for that to end).
		waitFor(t, "retention to keep 2 snapshots of files", 30*time.Second, func() bool {
			return len(snapshotsOf(t, c, "files")) == 2
		})
	})

	t.Run("triggered run of a command source", func(t *testing.T) {
		// The kernel has cached the listing of the host's folder.
		if _, err := os.ReadDir(filepath.Join(mnt, "hosts", "testhost")); err != nil {
			t.Fatal(err)
		}
		out := c.ok("run", "db")
		if !regexp.MustCompile(`^source db: success in \S+, .* added, snapshot [0-9a-f]{8} saved\n$`).MatchString(out) {
			t.Fatalf("cairn run db printed %q", out)
		}
		list := snapshotsOf(t, c, "db")
		if len(list) != 1 || list[0].Host != "testhost" || len(list[0].Tags) != 1 || list[0].Tags[0] != "db" {
			t.Fatalf("snapshots of db: %+v", list)
		}
		// Committed by the daemon: in its mount by the time cairn run
		// returns, without polling.
		if b, err := os.ReadFile(filepath.Join(mnt, "hosts", "testhost", "db", "latest", "db.sql")); err != nil || string(b) != "dump of the database" {
			t.Fatalf("db's snapshot in the mount right after cairn run: %q, %v", b, err)
		}
	})

	t.Run("failing before hook", func(t *testing.T) {
		out, code := c.run("run", "broken")
		if code != exitFailure {
			t.Fatalf("cairn run broken: exit %d, want 1 (%s)", code, out)
		}
		b, _ := os.ReadFile(hooks)
		if strings.Contains(string(b), "never") {
			t.Fatal("the before hook after the failing one ran")
		}
		if !regexp.MustCompile(`(?m)^broken-before$`).Match(b) ||
			!regexp.MustCompile(`(?m)^after broken failure 1 \[before hook 1 failed, ingest skipped: .*exit status 7\] \[\]$`).Match(b) {
			t.Fatalf("hooks of broken:\n%s", b)
		}
		if n := len(snapshotsOf(t, c, "broken")); n != 0 {
			t.Fatalf("broken wrote %d snapshots", n)
		}
		var st daemon.Status
		json.Unmarshal([]byte(c.ok("status", "--json")), &st)
		got := map[string]daemon.SourceStatus{}
		for _, s := range st.Sources {
			got[s.Name] = s
		}
		if s := got["broken"]; s.LastRun == nil || s.LastRun.Outcome != "failure" || s.Failures != 1 || !strings.Contains(s.LastRun.Error, "before hook 1") {
			t.Fatalf("status of broken: %+v", s)
		}
		if s := got["files"]; s.LastRun == nil || s.NextRun == nil || s.Failures != 0 {
			t.Fatalf("status of files (unaffected by broken): %+v %+v", s, s.LastRun)
		}
		text := c.ok("status")
		for _, want := range []string{`(?m)^files +\S+ \S+ +(success|running)`, `(?m)^broken +\S+ \S+ +failure `, `(?m)^db +.* on request$`} {
			if !regexp.MustCompile(want).MatchString(text) {
				t.Fatalf("cairn status does not match %s:\n%s", want, text)
			}
		}
	})

	t.Run("100 MiB on stdin through the socket", func(t *testing.T) {
		big := filepath.Join(work, "big.bin")
		writeRandomFile(t, big, 100<<20, 3)
		f, _ := os.Open(big)
		defer f.Close()
		// The kernel has cached the listing of ids/.
		if _, err := os.ReadDir(filepath.Join(mnt, "ids")); err != nil {
			t.Fatal(err)
		}
		cmd := c.cmd("ingest", "--json", "--stdin", "--stdin-name", "big.bin", "--source", "big")
		cmd.Stdin = f
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("ingest --stdin: %v\n%s", err, stderr.String())
		}
		d.waitLog(`client ingest of a stream as big\.bin \(source "big"\) over the socket`, 30*time.Second)
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		var sum map[string]any
		json.Unmarshal([]byte(lines[len(lines)-1]), &sum)
		if sum["message_type"] != "summary" || sum["total_bytes_processed"] != float64(100<<20) {
			t.Fatalf("last line of ingest --json: %s", lines[len(lines)-1])
		}
		// In the mount at once, and equal. Without --host, an ingest
		// through the daemon records the config's host, as its sources.
		latest := filepath.Join(mnt, "hosts", "testhost", "big", "latest", "big.bin")
		// By the time the ingest returns, without polling.
		ids, err := os.ReadDir(filepath.Join(mnt, "ids"))
		if err != nil || !slices.ContainsFunc(ids, func(e os.DirEntry) bool { return strings.HasPrefix(sum["snapshot_id"].(string), e.Name()) }) {
			t.Fatalf("ids/ right after the ingest lacks %v: %v %v", sum["snapshot_id"], ids, err)
		}
		if _, err := os.Stat(latest); err != nil {
			t.Fatalf("the new snapshot in the mount right after the ingest: %v", err)
		}
		if out, err := exec.Command("cmp", big, latest).CombinedOutput(); err != nil {
			t.Fatalf("cmp with the mount: %v %s", err, out)
		}
		// And restored by the CLI itself.
		target := filepath.Join(work, "restored")
		c.ok("restore", sum["snapshot_id"].(string), "--target", target)
		if out, err := exec.Command("cmp", big, filepath.Join(target, "big.bin")).CombinedOutput(); err != nil {
			t.Fatalf("cmp after restore: %v %s", err, out)
		}
		os.Remove(big)
		os.RemoveAll(target)
	})

	t.Run("same output through the daemon and directly", func(t *testing.T) {
		via, viaCode := c.run("--json", "ingest", src, "--source", "cmp")
		direct, directCode := c.run("--json", "--no-daemon", "ingest", src, "--source", "cmp")
		if viaCode != 0 || directCode != 0 {
			t.Fatalf("exit codes: %d through the daemon, %d directly", viaCode, directCode)
		}
		if a, b := jsonShape(t, via), jsonShape(t, direct); a != b {
			t.Fatalf("--json lines differ in shape:\nthrough the daemon: %s\ndirectly: %s", a, b)
		}
		// A failing --stdin-from-command: exit 1, the same message, no snapshot.
		for _, extra := range [][]string{nil, {"--no-daemon"}} {
			cmd := c.cmd(append(extra, "ingest", "--source", "failing", "--stdin-from-command", "--", "sh", "-c", "echo data; exit 4")...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
				t.Fatalf("%v: failing command: %v", extra, err)
			}
			if !strings.Contains(stderr.String(), "cairn: command sh -c 'echo data; exit 4' failed (exit status 4): no snapshot written") {
				t.Fatalf("%v: stderr %q", extra, stderr.String())
			}
		}
		if n := len(snapshotsOf(t, c, "failing")); n != 0 {
			t.Fatalf("a failing command wrote %d snapshots", n)
		}
	})

	t.Run("another uid is refused", func(t *testing.T) {
		// Even with the socket opened to everyone, SO_PEERCRED decides.
		os.Chmod(sock, 0o666)
		defer os.Chmod(sock, 0o600)
		os.Chmod(filepath.Dir(c.bin), 0o755)
		cmd := exec.Command(c.bin, "status", "--socket", sock)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
			t.Fatalf("status as uid 65534: %v: %s", err, out)
		}
		if !strings.Contains(string(out), "uid 65534 may not use the cairn daemon") {
			t.Fatalf("status as uid 65534 said: %s", out)
		}
		// Root may.
		cl := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return daemon.DialUnix(ctx, "unix", sock)
		}}}
		resp, err := cl.Get("http://cairn/v1/info")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("root is refused: %v %v", err, resp)
		}
		resp.Body.Close()
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$`)
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if !strings.HasPrefix(l, "# HELP ") && !strings.HasPrefix(l, "# TYPE ") && !sample.MatchString(l) {
				t.Fatalf("not Prometheus text: %q", l)
			}
		}
		if strings.Contains(string(body), "snapshot_id") {
			t.Fatal("metrics labelled by snapshot ID")
		}
		var set metrics.Set
		if err := set.ReadText(bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			family, source string
			ok             func(float64) bool
		}{
			{metrics.LastSnapshot, "files", func(v float64) bool { return v > 1e9 }},
			{metrics.LastSuccess, "db", func(v float64) bool { return v > 1e9 }},
			{metrics.AddedBytes, "", func(v float64) bool { return v >= 100<<20 }},
			{metrics.Files, "files", func(v float64) bool { return v == 3 }},
			{metrics.Duration, "files", func(v float64) bool { return v > 0 }},
			{metrics.Failures, "broken", func(v float64) bool { return v == 1 }},
			{metrics.Snapshots, "files", func(v float64) bool { return v == 2 }},
		} {
			host, source := "testhost", c.source
			if source == "" {
				source = "big"
			}
			v, ok := set.Value(c.family, host, source)
			if !ok || !c.ok(v) {
				t.Errorf("%s{host=testhost,source=%s} = %v (present: %v)", c.family, c.source, v, ok)
			}
		}
		if v, ok := set.Value(metrics.RepositorySize, "", ""); !ok || v < 100<<20 {
			t.Errorf("%s = %v", metrics.RepositorySize, v)
		}
	})

	t.Run("SIGHUP", func(t *testing.T) {
		os.WriteFile(cfgPath, []byte(config+"sources: [\n"), 0o600)
		d.cmd.Process.Signal(syscall.SIGHUP)
		d.waitLog(`reload refused, keeping the running config: `+regexp.QuoteMeta(cfgPath)+`:\d+`, 30*time.Second)
		c.ok("run", "db") // the old config still works
		waitFor(t, "RELOADING=1 then READY=1", 30*time.Second, func() bool {
			return strings.Contains(notes.String(), "RELOADING=1")
		})

		// A good config with another source: planned at once.
		extra := strings.Replace(config, "  - name: db\n", "  - name: extra\n    paths: ["+src+"]\n  - name: db\n", 1)
		os.WriteFile(cfgPath, []byte(extra), 0o600)
		d.cmd.Process.Signal(syscall.SIGHUP)
		d.waitLog(`reloaded .*: 4 sources`, 30*time.Second)
		c.ok("run", "extra")
	})

	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	// WatchdogSec=0.4s: WATCHDOG=1 every 0.2 s.
	if n := strings.Count(notes.String(), "WATCHDOG=1"); n < 5 {
		t.Errorf("%d WATCHDOG=1 on NOTIFY_SOCKET", n)
	}
	if !strings.Contains(notes.String(), "STOPPING=1") {
		t.Errorf("no STOPPING=1 on NOTIFY_SOCKET: %s", notes.String())
	}
	if mounted(mnt) {
		t.Error("still mounted after SIGTERM")
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("socket left behind after SIGTERM")
	}
	c.ok("check")
}

// jsonShape describes --json output without its values: the message types
// in order (progress lines folded) and each one's keys.
func jsonShape(t *testing.T, out string) string {
	t.Helper()
	var shape []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if m["message_type"] == "status" {
			continue // how many depends on timing
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		shape = append(shape, fmt.Sprint(m["message_type"], keys))
	}
	return strings.Join(shape, "\n")
}

// TestDaemonUnreadable compares an ingest with unreadable files through a
// daemon and directly: same exit code 3, same stderr lines, same --json.
// Root reads every file, so both run without CAP_DAC_OVERRIDE (setpriv).
func TestDaemonUnreadable(t *testing.T) {
	if !canMakeUnreadable() {
		if os.Getenv("CI") == "true" {
			t.Fatal("cannot make a file unreadable here (needs setpriv as root)")
		}
		t.Skip("cannot make a file unreadable here (needs setpriv as root)")
	}
	c := newCLI(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "readable"), []byte("fine"), 0o644)
	os.WriteFile(filepath.Join(src, "secret"), []byte("top secret"), 0o000)
	os.WriteFile(filepath.Join(src, "sub", "hidden"), []byte("hidden"), 0o000)
	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	port := freePort(t)
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nhost: h\n"+
		"sources:\n  - {name: eio, paths: [%s]}\nmetrics: {listen: '127.0.0.1:%d'}\n",
		c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, src, port)), 0o600)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)
	setpriv := func(args ...string) *exec.Cmd {
		cmd := exec.Command("setpriv", append(append(append([]string{}, dropCaps...), c.bin), args...)...)
		cmd.Env = c.env
		return cmd
	}
	d := launchDaemon(t, setpriv("daemon", "--config", cfgPath), sock)
	run := func(args ...string) (string, string, int) {
		cmd := setpriv(args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return stdout.String(), stderr.String(), code
	}
	// Values (IDs, counts, times) may differ; lines, keys and messages not.
	values := regexp.MustCompile(`[0-9a-f]{64}|\b[0-9a-f]{8}\b|[0-9]+(\.[0-9]+)?(e-?[0-9]+)?`)
	norm := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			// Progress lines depend on timing; a direct ingest beside a
			// daemon uses a private local index and says so.
			if !strings.Contains(l, `"message_type":"status"`) && !strings.Contains(l, "local index") {
				keep = append(keep, values.ReplaceAllString(l, "N"))
			}
		}
		return strings.Join(keep, "\n")
	}
	for i, mode := range [][]string{{"ingest", src}, {"--json", "ingest", src}} {
		viaOut, viaErr, viaCode := run(append(append([]string{"-v"}, mode...), "--source", fmt.Sprint("via", i))...)
		first, rest, _ := strings.Cut(viaErr, "\n")
		if first != "cairn: using the daemon at "+sock+fmt.Sprintf(" (pid %d)", d.cmd.Process.Pid) {
			t.Fatalf("%v did not go through the daemon: %s", mode, viaErr)
		}
		dirOut, dirErr, dirCode := run(append(append([]string{"--no-daemon"}, mode...), "--source", fmt.Sprint("direct", i))...)
		if viaCode != exitPartial || dirCode != exitPartial {
			t.Fatalf("%v: exit %d through the daemon, %d directly; want 3", mode, viaCode, dirCode)
		}
		if norm(viaOut) != norm(dirOut) {
			t.Errorf("%v: stdout differs:\nthrough the daemon:\n%s\ndirectly:\n%s", mode, viaOut, dirOut)
		}
		// File workers read in parallel: the unreadable paths come in
		// any order, through the daemon or not.
		sorted := func(s string) string {
			l := strings.Split(norm(s), "\n")
			sort.Strings(l)
			return strings.Join(l, "\n")
		}
		if sorted(rest) != sorted(dirErr) {
			t.Errorf("%v: stderr differs:\nthrough the daemon:\n%s\ndirectly:\n%s", mode, rest, dirErr)
		}
		if !strings.Contains(rest, src+"/secret") {
			t.Errorf("%v: the unreadable file is not named: %s", mode, rest)
		}
	}
	// The daemon's log (the journal) says that client ingests were
	// partial, as it says it of its sources' runs.
	if n := strings.Count(d.waitLog(`(?s)(client ingest: snapshot [0-9a-f]{8} saved in [0-9.]+s, but 2 paths could not be read\n.*){2}`, 5*time.Second), "could not be read"); n != 2 {
		t.Errorf("the daemon logged %d partial client ingests, want 2", n)
	}

	// cairn run names each unreadable file too, as the run goes, and
	// --json gives the same error objects as ingest.
	_, stderr, code := run("run", "eio")
	if code != exitPartial {
		t.Fatalf("run eio: exit %d, want 3: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	sort.Strings(lines[:len(lines)-1])
	want := regexp.MustCompile(`^cairn: cannot read ` + regexp.QuoteMeta(src) + `/secret: .*permission denied\n` +
		`cairn: cannot read ` + regexp.QuoteMeta(src) + `/sub/hidden: .*permission denied\n` +
		`cairn: source eio: snapshot [0-9a-f]{8} saved, but 2 paths could not be read$`)
	if got := strings.Join(lines, "\n"); !want.MatchString(got) {
		t.Errorf("run eio said:\n%s", got)
	}
	out, stderr, code := run("--json", "run", "eio")
	if code != exitPartial {
		t.Fatalf("run --json eio: exit %d, want 3: %s", code, stderr)
	}
	// Its result is a summary line, as ingest's: a script dispatches on
	// message_type.
	var sum map[string]any
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum["message_type"] != "summary" || sum["files_unreadable"] != 2.0 {
		t.Errorf("run --json printed %q (%v)", out, err)
	}
	items := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			t.Errorf("run --json: not JSON: %s", l)
		}
		if m["message_type"] == "exit_error" {
			continue // the final error
		}
		if m["message_type"] != "error" || m["during"] != "archival" {
			t.Errorf("run --json: %s", l)
		}
		items[fmt.Sprint(m["item"])] = true
	}
	if !items[src+"/secret"] || !items[src+"/sub/hidden"] || len(items) != 2 {
		t.Errorf("run --json named %v", items)
	}

	// A partial run is a success, with its unreadable files counted.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	var set metrics.Set
	err = set.ReadText(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for fam, want := range map[string]float64{metrics.LastOK: 1, metrics.Unreadable: 2, metrics.Failures: 0} {
		if v, ok := set.Value(fam, "h", "eio"); !ok || v != want {
			t.Errorf("%s{host=h,source=eio} = %v (present: %v), want %v", fam, v, ok, want)
		}
	}
}

// TestDaemonStop stops a daemon in the middle of an ingest, with SIGTERM
// (exit 0 once stop_timeout has passed and the ingest is aborted) and with
// SIGKILL; either way the repository stays valid and holds no snapshot of
// the interrupted source.
func TestDaemonStop(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
socket: %s
stop_timeout: 1s
sources:
  - name: slow
    command: "head -c 30000000 /dev/urandom; sleep 60"
`, c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock)), 0o600)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		d := startDaemon(t, c, cfgPath, sock)
		c.ok("run", "--no-wait", "slow")
		d.waitLog(`source slow: starting`, 30*time.Second)
		time.Sleep(1500 * time.Millisecond) // into the stream
		code := d.stop(sig, 20*time.Second)
		if sig == syscall.SIGTERM {
			if code != 0 {
				t.Fatalf("exit %d after SIGTERM during an ingest", code)
			}
			d.waitLog(`aborting it`, 0)
			if _, err := os.Stat(sock); err == nil {
				t.Fatal("socket left behind")
			}
		} else if _, err := os.Stat(sock); err != nil {
			t.Fatalf("after SIGKILL the socket file should still be there: %v", err)
		}
		c.ok("--no-daemon", "check")
		if n := len(snapshotsOf(t, c, "slow")); n != 0 {
			t.Fatalf("after %v: %d snapshots of the interrupted source", sig, n)
		}
	}
	// The socket the killed daemon left is replaced at the next start.
	d := startDaemon(t, c, cfgPath, sock)
	c.ok("status")
	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestDaemonRun drives `cairn run`, `status` and `ingest --stdin` against
// a daemon without a mount: --no-wait, an unknown source, two runs of the
// same source at once, the concurrency limit, SIGINT on a waiting client,
// and a second daemon on a live socket.
func TestDaemonRun(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	sock := filepath.Join(socketDir(t), "cairn.sock")
	runs := filepath.Join(work, "runs.log")
	hold := filepath.Join(work, "hold")
	cfgPath := filepath.Join(work, "cairn.yaml")
	// Each run logs "+NAME" when it starts and "-NAME" when it ends. While
	// the file hold exists a run that has started waits: the test decides
	// when it ends, not the speed of the machine.
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
socket: %s
concurrency: 1
stop_timeout: 5s
sources:
  - name: a
    command: "echo +a >> %[5]s; while [ -e %[6]s ]; do sleep 0.05; done; sleep 1; echo -a >> %[5]s; echo data a"
  - name: b
    command: "echo +b >> %[5]s; while [ -e %[6]s ]; do sleep 0.05; done; sleep 1; echo -b >> %[5]s; echo data b"
`, c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, shellQuote(runs), shellQuote(hold))), 0o600)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)
	d := startDaemon(t, c, cfgPath, sock)
	holdRuns := func(t *testing.T) (release func()) {
		t.Helper()
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(hold) })
		return func() { os.Remove(hold) }
	}
	// requested counts the requests of cairn run the daemon has taken in:
	// it logs each once the run is queued or joined, and the client is
	// then waiting for it.
	requested := func() int { return strings.Count(d.log.String(), ": run requested over the socket") }

	t.Run("a second daemon on a live socket", func(t *testing.T) {
		cmd := c.cmd("daemon", "--config", cfgPath)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
			t.Fatalf("second daemon: %v: %s", err, out)
		}
		if !strings.Contains(string(out), "another daemon is listening on it") || strings.Contains(string(out), "local index") {
			t.Fatalf("second daemon said (it must not open the repository first): %s", out)
		}
		c.ok("status") // the first one still answers
	})

	t.Run("unknown source", func(t *testing.T) {
		cmd := c.cmd("run", "nosuch")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
			t.Fatalf("run nosuch: %v", err)
		}
		if !strings.Contains(stderr.String(), `no such source "nosuch" in the daemon's config`) {
			t.Fatalf("run nosuch said: %s", stderr.String())
		}
	})

	t.Run("same source twice at once, and the concurrency limit", func(t *testing.T) {
		os.Remove(runs)
		// The first run of a holds until all four requests are in, in
		// this order, however slowly the clients start.
		release := holdRuns(t)
		var wg sync.WaitGroup
		codes := make([]int, 4)
		for i, s := range []string{"a", "a", "b", "a"} {
			n := requested()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, codes[i] = c.run("run", s)
			}()
			waitFor(t, fmt.Sprintf("the daemon to take in request %d (%s)", i+1, s), 20*time.Second, func() bool { return requested() > n })
			if i == 0 {
				waitFor(t, "the first run of a to start", 20*time.Second, func() bool {
					b, _ := os.ReadFile(runs)
					return string(b) == "+a\n"
				})
			}
		}
		release()
		wg.Wait()
		b, _ := os.ReadFile(runs)
		lines := strings.Fields(string(b))
		depth, starts := 0, map[string]int{}
		for _, l := range lines {
			if l[0] == '+' {
				depth++
				starts[l[1:]]++
			} else {
				depth--
			}
			if depth > 1 {
				t.Fatalf("more than concurrency 1 at once: %q", lines)
			}
		}
		// The first a runs; the second and fourth join one queued run.
		if starts["a"] != 2 || starts["b"] != 1 || fmt.Sprint(codes) != "[0 0 0 0]" {
			t.Fatalf("runs %v, exit codes %v: %q", starts, codes, lines)
		}
	})

	t.Run("--no-wait and status --json", func(t *testing.T) {
		// b stays running until the status checks are done.
		release := holdRuns(t)
		if out := c.ok("run", "--no-wait", "b"); out != "source b queued\n" {
			t.Fatalf("run --no-wait printed %q", out)
		}
		var st daemon.Status
		waitFor(t, "b running", 30*time.Second, func() bool {
			json.Unmarshal([]byte(c.ok("status", "--json")), &st)
			return len(st.Sources) == 2 && st.Sources[1].Running
		})
		var raw map[string]any
		out := c.ok("status", "--json")
		if err := json.Unmarshal([]byte(out), &raw); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("status --json is not one JSON object: %v %q", err, out)
		}
		keys := func(m map[string]any) string {
			var k []string
			for key := range m {
				k = append(k, key)
			}
			sort.Strings(k)
			return strings.Join(k, " ")
		}
		if got := keys(raw); got != "host pid repository repository_id sources uid version" {
			t.Errorf("status keys: %s", got)
		}
		srcs := raw["sources"].([]any)
		if got := keys(srcs[0].(map[string]any)); got != "failures last_run name queued running" {
			t.Errorf("source keys: %s", got)
		}
		if got := keys(srcs[0].(map[string]any)["last_run"].(map[string]any)); got != "added_bytes bytes duration_seconds end exit_code files files_unreadable outcome snapshot_id snapshot_time snapshots_removed source start" {
			t.Errorf("last_run keys: %s", got)
		}
		release()
		waitFor(t, "the queued run of b to end", 30*time.Second, func() bool {
			json.Unmarshal([]byte(c.ok("status", "--json")), &st)
			s := st.Sources[1]
			return !s.Running && !s.Queued && s.LastRun != nil && s.LastRun.Outcome == "success"
		})
	})

	t.Run("SIGINT on a waiting cairn run", func(t *testing.T) {
		n := len(snapshotsOf(t, c, "a"))
		// The run holds until the client is interrupted: the client is
		// waiting for it, however slowly it started.
		release := holdRuns(t)
		asked := requested()
		cmd := c.cmd("run", "a")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the daemon to take in the request", 20*time.Second, func() bool { return requested() > asked })
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
			t.Fatalf("cairn run after SIGINT: %v, want exit 130", err)
		}
		release()
		// The run it asked for goes on in the daemon.
		waitFor(t, "the run to end in the daemon", 30*time.Second, func() bool { return len(snapshotsOf(t, c, "a")) == n+1 })
	})

	t.Run("SIGINT on ingest --stdin", func(t *testing.T) {
		cmd := c.cmd("ingest", "--stdin", "--source", "cut")
		in, _ := cmd.StdinPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		in.Write(bytes.Repeat([]byte("x"), 1<<20)) // stdin stays open
		d.waitLog(`client ingest of a stream as stdin \(source "cut"\)`, 30*time.Second)
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		in.Close()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
			t.Fatalf("ingest --stdin after SIGINT: %v, want exit 130 (%s)", err, stderr.String())
		}
		// The daemon drops the cut stream: no snapshot, and it goes on.
		d.waitLog(`client ingest failed after .*stream ended early`, 30*time.Second)
		if n := len(snapshotsOf(t, c, "cut")); n != 0 {
			t.Fatalf("%d snapshots of an interrupted stream", n)
		}
	})

	t.Run("a daemon on another repository", func(t *testing.T) {
		other := newCLI(t)
		other.env = append(other.env, "CAIRN_SOCKET="+sock)
		cmd := other.cmd("-v", "snapshots", "--json")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != "[]" {
			t.Fatalf("snapshots of another repository: %v %q %s", err, out, stderr.String())
		}
		if !strings.Contains(stderr.String(), "serves "+c.repoDir()+", not "+other.repoDir()+"; working on the repository directly") {
			t.Fatalf("-v said: %s", stderr.String())
		}
		if _, code := other.run("status"); code != exitFailure {
			t.Fatalf("status for another repository: exit %d", code)
		}
	})

	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// slowIngest starts cairn ingest --stdin through the daemon with a
// producer writing the first line, then, once hold is closed, a line every
// 100 ms, n lines in all; wait returns its exit code, stdout and stderr
// once it ends. Holding the stream open until the test has done what it
// must do during it keeps a slow machine from ending the stream first.
func slowIngest(t *testing.T, c *cli, name string, n int, hold <-chan struct{}) (wait func() (int, string, string), want string) {
	t.Helper()
	cmd := c.cmd("ingest", "--stdin", "--stdin-name", name, "--source", "manual")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&all, "line %d\n", i)
	}
	go func() {
		defer in.Close()
		for i := 1; i <= n; i++ {
			if _, err := fmt.Fprintf(in, "line %d\n", i); err != nil {
				return
			}
			if i == 1 {
				<-hold
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return func() (int, string, string) {
		code := exitCodeOf(t, cmd, 30*time.Second)
		return code, stdout.String(), stderr.String()
	}, all.String()
}

// TestDaemonStopDuringStream: a SIGTERM while a slow producer streams
// into cairn ingest --stdin lets the ingest finish (stop_timeout allowing),
// since it counts as running work from its first byte; aborted after
// stop_timeout, or killed with the daemon, the client says so plainly,
// never with a Go transport error.
func TestDaemonStopDuringStream(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	sock := filepath.Join(socketDir(t), "cairn.sock")
	config := func(stopTimeout string) string {
		p := filepath.Join(work, "cairn-"+stopTimeout+".yaml")
		os.WriteFile(p, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nstop_timeout: %s\n",
			c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, stopTimeout)), 0o600)
		return p
	}
	c.env = append(c.env, "CAIRN_SOCKET="+sock)
	goError := regexp.MustCompile(`Post |unix|closed network connection|EOF|broken pipe`)

	t.Run("finishes within stop_timeout", func(t *testing.T) {
		d := startDaemon(t, c, config("20s"), sock)
		hold := make(chan struct{})
		var once sync.Once
		release := func() { once.Do(func() { close(hold) }) }
		defer release() // on a failure before the SIGTERM
		wait, want := slowIngest(t, c, "late", 30, hold)
		// Seen by the daemon and by status from its first line.
		d.waitLog(`client ingest of a stream as late \(source "manual"\) over the socket`, 30*time.Second)
		var st daemon.Status
		json.Unmarshal([]byte(c.ok("status", "--json")), &st)
		if len(st.Ingests) != 1 || st.Ingests[0].What != "a stream as late" || st.Ingests[0].Source != "manual" {
			t.Fatalf("status while the stream comes: %+v", st.Ingests)
		}
		if out := c.ok("status"); !strings.Contains(out, "ingest of a stream as late (source manual) over the socket: running since") {
			t.Fatalf("cairn status does not show the ingest:\n%s", out)
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		release() // the rest of the stream comes after the SIGTERM
		code, stdout, stderr := wait()
		if code != 0 || !strings.Contains(stdout, "snapshot ") {
			t.Fatalf("ingest across SIGTERM: exit %d\n%s%s", code, stdout, stderr)
		}
		if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
			t.Fatalf("daemon: exit %d", code)
		}
		d.waitLog(`stopping: waiting up to 20s for 1 running`, 0)
		d.waitLog(`client ingest: snapshot [0-9a-f]{8} saved`, 0)
		list := snapshotsOf(t, c, "manual")
		if len(list) != 1 {
			t.Fatalf("snapshots of manual: %+v", list)
		}
		target := filepath.Join(work, "restored")
		c.ok("restore", list[0].ID, "--target", target)
		if b, _ := os.ReadFile(filepath.Join(target, "late")); string(b) != want {
			t.Fatalf("restored stream: %q", b)
		}
	})

	t.Run("aborted after stop_timeout", func(t *testing.T) {
		d := startDaemon(t, c, config("1s"), sock)
		// The stream is held past stop_timeout until the client has ended.
		hold := make(chan struct{})
		defer close(hold)
		wait, _ := slowIngest(t, c, "aborted", 60, hold)
		d.waitLog(`client ingest of a stream as aborted`, 30*time.Second)
		d.cmd.Process.Signal(syscall.SIGTERM)
		code, stdout, stderr := wait()
		if code != exitFailure || stderr != "cairn: aborted: the daemon is stopping; no snapshot written\n" {
			t.Fatalf("ingest aborted by the daemon: exit %d\n%s%s", code, stdout, stderr)
		}
		if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
			t.Fatalf("daemon: exit %d", code)
		}
	})

	t.Run("daemon killed", func(t *testing.T) {
		d := startDaemon(t, c, config("1s"), sock)
		hold := make(chan struct{})
		defer close(hold)
		wait, _ := slowIngest(t, c, "killed", 60, hold)
		d.waitLog(`client ingest of a stream as killed`, 30*time.Second)
		time.Sleep(300 * time.Millisecond)
		d.stop(syscall.SIGKILL, 10*time.Second)
		code, stdout, stderr := wait()
		if code != exitFailure || stderr != "cairn: the daemon stopped during the ingest; no snapshot written\n" || goError.MatchString(stderr) {
			t.Fatalf("ingest when the daemon died: exit %d\n%s%s", code, stdout, stderr)
		}
	})
	if n := len(snapshotsOf(t, c, "manual")); n != 1 {
		t.Fatalf("%d snapshots of manual; want only the finished one", n)
	}
}

// A daemon run as a user who may not write the default socket's folder
// (/run/cairn) says how to give another path, instead of only "permission
// denied".
func TestDaemonSocketPermissionHint(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run the daemon as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	shareWithNobody(c)
	work := t.TempDir()
	os.Chmod(work, 0o755)
	cache := filepath.Join(work, "cache")
	os.Mkdir(cache, 0o700)
	os.Chown(cache, 65534, 65534)
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nhost: h\n",
		c.repoDir(), c.passwordFile(), cache)), 0o644)
	var env []string
	for _, e := range c.env {
		if !strings.HasPrefix(e, "CAIRN_SOCKET=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command(c.bin, "daemon", "--config", cfgPath)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the daemon as nobody with the default socket still runs after 20 s:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "set socket: in the configuration, or --socket, to a path in a folder this user may write") {
		t.Fatalf("daemon as nobody: %v, want a hint to choose a socket path:\n%s", err, out)
	}
}
