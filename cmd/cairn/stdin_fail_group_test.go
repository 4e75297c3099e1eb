package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// When the ingest fails while the --stdin-from-command command runs (here
// the repository's disk is full), the command's whole process group is
// ended, as on Ctrl-C: only its first process was killed, and the rest of
// a pipeline (pg_dump | gzip, or what a script started) ran on after cairn
// had exited.
func TestStdinCommandGroupEndsWhenIngestFails(t *testing.T) {
	mnt := smallTmpfs(t, "8m")
	c := newCLIAt(t, filepath.Join(mnt, "repo"))
	c.ok("init", "--insecure-kdf")
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `sleep 60 & echo $! > "$1"; head -c 64000000 /dev/urandom; wait`
	cmd := c.cmd("ingest", "--stdin-from-command", "--stdin-name", "dump.sql", "--", "sh", "-c", script, "sh", pidFile)
	// No controlling terminal, as under cron or systemd: the command
	// runs in a process group of its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// A file, not a pipe, that the command's processes would hold open.
	errFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	err = cmd.Run()
	stderr, _ := os.ReadFile(errFile.Name())
	if err == nil || !strings.Contains(string(stderr), "no space left on device") {
		t.Fatalf("ingest onto a full disk: %v, %s", err, stderr)
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("the command's pid file: %q", b)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return // gone, or a zombie: ended
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's background process %d still runs after the ingest failed", pid)
		}
	}
}
