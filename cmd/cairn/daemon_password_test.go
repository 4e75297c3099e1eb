package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
)

// TestDaemonPassword: through the daemon a password is checked as without
// it. A wrong one exits 12 with the same message, whoever gives it; the
// socket's owner (root here) may give none; any other allowed uid must
// give the right one for snapshots, ingest and run. Also: what a declined
// path ingest says, the host of socket ingests, and cairn run's retention.
func TestDaemonPassword(t *testing.T) {
	c := newCLI(t)
	work := t.TempDir()
	shared := socketDir(t) // reachable by every user
	sock := filepath.Join(shared, "cairn.sock")
	// The password, readable by uid 65534 too.
	pwFile := filepath.Join(shared, "password")
	b, _ := os.ReadFile(envValue(c.env, "CAIRN_PASSWORD_FILE"))
	os.WriteFile(pwFile, b, 0o644)
	marker := filepath.Join(work, "command-ran")
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
host: cfghost
socket: %s
allow_uids: [65534]
sources:
  - name: db
    command: "printf dump"
  - name: kept
    command: "date +%%N"
    retention: {keep_last: 1}
`, c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock)), 0o600)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)
	d := startDaemon(t, c, cfgPath, sock)

	// run returns stdout, stderr and the exit code of cairn with env
	// added to c's, stdin from in.
	run := func(cmd *exec.Cmd, in string) (string, string, int) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(in), &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	asRoot := func(in string, env []string, args ...string) (string, string, int) {
		cmd := c.cmd(args...)
		cmd.Env = append(append([]string{}, c.env...), env...)
		return run(cmd, in)
	}
	wrong := []string{"CAIRN_PASSWORD_FILE=", "CAIRN_PASSWORD=wrong"}

	t.Run("a wrong password from the owner", func(t *testing.T) {
		_, direct, directCode := asRoot("", wrong, "snapshots", "--json", "--no-daemon")
		out, via, code := asRoot("", wrong, "snapshots", "--json")
		if directCode != exitWrongPass || code != exitWrongPass || via != direct || out != "" {
			t.Fatalf("snapshots --json with a wrong password: exit %d %q (stdout %q), directly exit %d %q", code, via, out, directCode, direct)
		}
		out, stderr, code := asRoot("", wrong, "ingest", "--stdin", "--source", "pw", "--json")
		if code != exitWrongPass || !strings.Contains(stderr, `"code":12`) || strings.Contains(out, "summary") {
			t.Fatalf("ingest --stdin with a wrong password: exit %d %s %s", code, out, stderr)
		}
		// Refused before the command runs, as a direct ingest is.
		_, stderr, code = asRoot("", wrong, "ingest", "--source", "pw", "--stdin-from-command", "--", "touch", marker)
		if _, err := os.Stat(marker); code != exitWrongPass || err == nil {
			t.Fatalf("ingest --stdin-from-command with a wrong password: exit %d, command ran: %v (%s)", code, err == nil, stderr)
		}
		if strings.Contains(d.log.String(), "wrong\n") || strings.Contains(d.log.String(), "=wrong") {
			t.Fatalf("the password is in the daemon's log:\n%s", d.log)
		}
		if n := len(snapshotsOf(t, c, "pw")); n != 0 {
			t.Fatalf("%d snapshots written with a wrong password", n)
		}
		// The owner needs none.
		if out, stderr, code := asRoot("", []string{"CAIRN_PASSWORD_FILE="}, "snapshots", "--json"); code != 0 || !strings.HasPrefix(out, "[") {
			t.Fatalf("snapshots without a password as root: exit %d %s", code, stderr)
		}
	})

	t.Run("socket ingests record the config's host", func(t *testing.T) {
		prom := filepath.Join(work, "ingest.prom")
		asRoot("data", nil, "ingest", "--stdin", "--source", "hosted", "--metrics-file", prom)
		asRoot("data", nil, "ingest", "--stdin", "--source", "hosted", "--host", "given")
		list := snapshotsOf(t, c, "hosted")
		if len(list) != 2 || list[0].Host != "cfghost" || list[1].Host != "given" {
			t.Fatalf("hosts of socket ingests: %+v", list)
		}
		// --metrics-file names the host the snapshot records.
		set, err := metrics.LoadFile(prom)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := set.Value(metrics.LastSuccess, "cfghost", "hosted"); !ok {
			b, _ := os.ReadFile(prom)
			t.Fatalf("--metrics-file without host cfghost:\n%s", b)
		}
	})

	t.Run("cairn run says what retention removed", func(t *testing.T) {
		first := c.ok("run", "kept")
		second := c.ok("run", "kept")
		if strings.Contains(first, "retention") || !strings.HasSuffix(second, " saved, retention removed 1 snapshot\n") {
			t.Fatalf("cairn run kept printed %q, then %q", first, second)
		}
	})

	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to call as another uid")
		}
		t.Skip("needs root to call as another uid")
	}
	os.Chmod(filepath.Dir(c.bin), 0o755)
	nobody := func(in string, env []string, args ...string) (string, string, int) {
		cmd := exec.Command(c.bin, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/", "CAIRN_REPOSITORY=" + c.repoDir(), "CAIRN_SOCKET=" + sock}, env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = "/"
		return run(cmd, in)
	}
	right := []string{"CAIRN_PASSWORD_FILE=" + pwFile}

	t.Run("another uid without a password", func(t *testing.T) {
		// Works directly, where it cannot read the repository: the
		// error says why the daemon did not take it.
		_, stderr, code := nobody("", nil, "snapshots")
		if code != exitFailure || !strings.Contains(stderr, "needs the repository password from uid 65534 (none is set)") ||
			!strings.Contains(stderr, "set CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND or CAIRN_PASSWORD") {
			t.Fatalf("snapshots as uid 65534 without a password: exit %d %s", code, stderr)
		}
		if _, stderr, code := nobody("", nil, "run", "db"); code != exitFailure || !strings.Contains(stderr, "no password: uid 65534 must give the repository's password") {
			t.Fatalf("run as uid 65534 without a password: exit %d %s", code, stderr)
		}
		if out, stderr, code := nobody("", nil, "status"); code != 0 || !strings.Contains(out, "db") {
			t.Fatalf("status as uid 65534 without a password: exit %d %s", code, stderr)
		}
	})

	t.Run("another uid with a wrong password", func(t *testing.T) {
		for _, args := range [][]string{{"snapshots", "--json"}, {"ingest", "--stdin", "--source", "nob", "--json"}, {"run", "db"}} {
			_, stderr, code := nobody("data", wrong, args...)
			if code != exitWrongPass || !strings.Contains(stderr, "wrong password or no key found") {
				t.Errorf("%v as uid 65534 with a wrong password: exit %d %s", args, code, stderr)
			}
		}
	})

	t.Run("another uid with the password", func(t *testing.T) {
		time.Sleep(1100 * time.Millisecond) // the pause after 3 wrong passwords
		out, stderr, code := nobody("", right, "snapshots", "--json")
		var list []snapshotJSON
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) == 0 {
			t.Fatalf("snapshots as uid 65534: exit %d %q %s", code, out, stderr)
		}
		if _, stderr, code := nobody("streamed", right, "ingest", "--stdin", "--source", "nob"); code != 0 {
			t.Fatalf("ingest --stdin as uid 65534: exit %d %s", code, stderr)
		}
		if _, stderr, code := nobody("", right, "run", "db"); code != 0 {
			t.Fatalf("run as uid 65534: exit %d %s", code, stderr)
		}
		// Paths: the daemon declines them, the direct way cannot read
		// the repository, and the error says both.
		_, stderr, code = nobody("", right, "ingest", "/etc/hostname", "--source", "nob")
		if code != exitFailure || !strings.Contains(stderr, "does not ingest paths for uid 65534") ||
			!strings.Contains(stderr, "stream it with --stdin, or ask the administrator to add a source") {
			t.Fatalf("path ingest as uid 65534: exit %d %s", code, stderr)
		}
	})

	t.Run("a removed password stops working at once", func(t *testing.T) {
		// The daemon remembers passwords that passed; cairn key remove
		// (or key passwd) must still shut one out without a reload.
		extra := filepath.Join(shared, "extra")
		os.WriteFile(extra, []byte("extra secret\n"), 0o644)
		out, stderr, code := asRoot("", nil, "key", "add", "--insecure-kdf", "--new-password-file", extra, "--json")
		var added struct{ ID string }
		if code != 0 || json.Unmarshal([]byte(out), &added) != nil || added.ID == "" {
			t.Fatalf("key add: exit %d %q %s", code, out, stderr)
		}
		withExtra := []string{"CAIRN_PASSWORD_FILE=" + extra}
		if _, stderr, code := nobody("", withExtra, "snapshots", "--json"); code != 0 {
			t.Fatalf("snapshots as uid 65534 with the added password: exit %d %s", code, stderr)
		}
		if _, stderr, code := asRoot("", nil, "key", "remove", added.ID); code != 0 {
			t.Fatalf("key remove: exit %d %s", code, stderr)
		}
		if out, stderr, code := nobody("", withExtra, "snapshots", "--json"); code != exitWrongPass {
			t.Fatalf("snapshots as uid 65534 with a removed password: exit %d %q %s", code, out, stderr)
		}
		if _, stderr, code := nobody("", right, "snapshots", "--json"); code != 0 {
			t.Fatalf("snapshots as uid 65534 with the password after a key was removed: exit %d %s", code, stderr)
		}
	})

	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestDaemonLegacyPassword: a repository made before a password file's
// byte order mark was dropped (ccbaf1d), or before backslashes inside a
// password command's double quotes were kept (7019113), opens with the
// same file or command directly, and must through the daemon too: the
// client sent only the password as read now, and the daemon refused it
// (exit 12) where --no-daemon worked. cairn status too.
func TestDaemonLegacyPassword(t *testing.T) {
	c := newCLIAt(t, filepath.Join(t.TempDir(), "repo"), "CAIRN_PASSWORD_FILE=", "CAIRN_PASSWORD=\ufeffold")
	c.ok("init", "--insecure-kdf")
	work := t.TempDir()
	bom := filepath.Join(work, "bom")
	os.WriteFile(bom, []byte("\ufeffold\n"), 0o600)
	plain := filepath.Join(work, "plain")
	os.WriteFile(plain, []byte("s3cretn\n"), 0o600)
	c.ok("key", "add", "--insecure-kdf", "--new-password-file", plain)

	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\n",
		c.repoDir(), plain, filepath.Join(work, "dcache"), sock)), 0o600)
	startDaemon(t, c, cfgPath, sock)

	for _, env := range [][]string{
		{"CAIRN_PASSWORD_FILE=" + bom},
		{"CAIRN_PASSWORD_COMMAND=printf \"s3cret\\n\""},
	} {
		for _, via := range []string{"--no-daemon", "--socket=" + sock} {
			cmd := c.cmd("ingest", "--stdin", "--source", "legacy", "-q", via)
			cmd.Env = append(append([]string{}, c.env...), append([]string{"CAIRN_PASSWORD="}, env...)...)
			cmd.Stdin = strings.NewReader("dump")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("%v ingest --stdin %s: %v: %s", env, via, err, stderr.String())
			}
		}
		// status finds the daemon itself (requireDaemon)
		cmd := c.cmd("status", "--socket="+sock)
		cmd.Env = append(append([]string{}, c.env...), append([]string{"CAIRN_PASSWORD="}, env...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v status: %v: %s", env, err, out)
		}
	}
	if out := c.ok("snapshots", "--no-daemon", "--json"); strings.Count(out, `"source":"legacy"`) != 4 {
		t.Fatalf("want 4 snapshots of source legacy, got %s", out)
	}
}

// TestDaemonWrongPasswordWithBOM: a wrong password from a file with a
// byte order mark is checked by the daemon as read now and as read before
// the mark was dropped; each refusal counts against the uid, and a few
// bring a pause ("too many wrong passwords", exit 1). The client gave the
// refused password a third time with the command itself, so the first
// such command already brought the pause, and the next one, a moment
// later, exited 1 instead of 12 (wrong password) as it does directly.
func TestDaemonWrongPasswordWithBOM(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to call as another uid")
	}
	c := newCLI(t)
	work := t.TempDir()
	shared := socketDir(t)
	sock := filepath.Join(shared, "cairn.sock")
	bom := filepath.Join(shared, "bom")
	os.WriteFile(bom, []byte("\ufeffwrong\n"), 0o644)
	cfgPath := filepath.Join(work, "cairn.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nallow_uids: [65534]\n",
		c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), filepath.Join(work, "dcache"), sock)), 0o600)
	startDaemon(t, c, cfgPath, sock)
	os.Chmod(filepath.Dir(c.bin), 0o755)
	for i := range 2 {
		cmd := exec.Command(c.bin, "snapshots", "--json")
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/", "CAIRN_REPOSITORY=" + c.repoDir(), "CAIRN_SOCKET=" + sock, "CAIRN_PASSWORD_FILE=" + bom}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = "/"
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != exitWrongPass || !strings.Contains(stderr.String(), "wrong password or no key found") {
			t.Fatalf("command %d as uid 65534 with a wrong password in a file with a BOM: exit %d %s", i+1, code, stderr.String())
		}
	}
}
