package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
)

// runErr runs cairn and returns stdout, stderr and the exit code.
func (c *cli) runErr(args ...string) (string, string, int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	cmd := c.cmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("cairn %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// openRepoOf opens c's repository in the test, as another process would,
// on the clock now.
func openRepoOf(t *testing.T, c *cli, now func() time.Time) *repo.Repository {
	t.Helper()
	be, err := local.Open(c.repoDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), be, repo.Options{Password: []byte("crash test password"), CacheDir: t.TempDir(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// writeAbandonedLock writes a lock last refreshed at info.Refreshed, and
// sets its object's modification time back to then too: the storage last
// saw it written at that time.
func writeAbandonedLock(t *testing.T, c *cli, r *repo.Repository, info repo.LockInfo) string {
	t.Helper()
	name := r.TestWriteLock(t, info)
	if err := os.Chtimes(filepath.Join(c.repoDir(), filepath.FromSlash(name)), info.Refreshed, info.Refreshed); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestUnlock: a lock left by a dead process of another host blocks prune
// until its lease expires; the exit-11 message says when and what to do;
// unlock removes it once stale, and --remove-all removes a live one.
func TestUnlock(t *testing.T) {
	c := newCLI(t)
	c.ok("ingest", t.TempDir())
	r := openRepoOf(t, c, nil)
	now := time.Now().UTC()
	old := now.Add(-repo.StaleAfter - time.Minute)
	expired := writeAbandonedLock(t, c, r, repo.LockInfo{Time: old, Refreshed: old, Host: "otherhost", PID: 10639, User: "root", Operation: "ingest"})
	live := r.TestWriteLock(t, repo.LockInfo{Time: now, Refreshed: now, Host: "otherhost2", PID: 12310, User: "root", Operation: "ls"})

	_, stderr, code := c.runErr("prune")
	if code != exitLocked {
		t.Fatalf("prune beside a live foreign lock: exit %d, want 11: %s", code, stderr)
	}
	// The time alone when the lock goes stale today, the date too when
	// that is after midnight UTC. Today is prune's, which may have begun
	// after midnight when the test's now was just before.
	staleAt := now.Add(repo.StaleAfter)
	when := staleAt.Format("15:04 UTC")
	if staleAt.YearDay() != now.YearDay() {
		when = staleAt.Format("2006-01-02 15:04 UTC")
		if time.Now().UTC().YearDay() == staleAt.YearDay() && !strings.Contains(stderr, when) {
			when = staleAt.Format("15:04 UTC")
		}
	}
	for _, want := range []string{
		"repository is locked: shared lock by root on otherhost2 (pid 12310, ls)",
		"stale after " + when + " unless refreshed",
		"`cairn unlock` removes stale locks",
		"--remove-all",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("exit-11 message lacks %q:\n%s", want, stderr)
		}
	}
	_, msg, _ := strings.Cut(stderr, "cairn: repository is locked")
	if strings.Contains(msg, "otherhost ") {
		t.Errorf("the message names the expired lock:\n%s", stderr)
	}
	if !strings.Contains(stderr, "removed stale lock "+expired) {
		t.Errorf("prune did not say that it removed the expired lock:\n%s", stderr)
	}

	// prune's lock attempt removed the expired lock already; write it
	// again for unlock to find.
	expired = writeAbandonedLock(t, c, r, repo.LockInfo{Time: old, Refreshed: old, Host: "otherhost", PID: 10639, User: "root", Operation: "ingest"})
	out, stderr, code := c.runErr("--json", "unlock")
	if code != 0 {
		t.Fatalf("unlock: exit %d: %s", code, stderr)
	}
	var res struct {
		MessageType string `json:"message_type"`
		Removed     []struct {
			Name, Host, Stale string
		}
		Kept []struct{ Name, Host, Stale string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("unlock --json: %v: %q", err, out)
	}
	if res.MessageType != "unlock" || len(res.Removed) != 1 || res.Removed[0].Name != expired || !strings.Contains(res.Removed[0].Stale, "lease expired") {
		t.Fatalf("unlock removed %+v, want only %s", res.Removed, expired)
	}
	if len(res.Kept) != 1 || res.Kept[0].Name != live || res.Kept[0].Stale != "" {
		t.Fatalf("unlock kept %+v, want %s", res.Kept, live)
	}
	if n := countObjects(filepath.Join(c.repoDir(), "locks")); n != 1 {
		t.Fatalf("%d lock objects after unlock, want 1", n)
	}

	// text output, nothing stale
	out, _, code = c.runErr("unlock")
	if code != 0 || !strings.Contains(out, "no stale locks") || !strings.Contains(out, "kept live "+live) {
		t.Fatalf("unlock with only a live lock: exit %d:\n%s", code, out)
	}

	// --remove-all: the live one goes too, with a warning.
	out, stderr, code = c.runErr("unlock", "--remove-all")
	if code != 0 || !strings.Contains(out, "removed "+live) || !strings.Contains(stderr, "warning: removed 1 live lock") {
		t.Fatalf("unlock --remove-all: exit %d:\n%s\n%s", code, out, stderr)
	}
	if n := countObjects(filepath.Join(c.repoDir(), "locks")); n != 0 {
		t.Fatalf("%d lock objects after unlock --remove-all", n)
	}
	c.ok("prune")
}

// TestLockRemovesStaleObjects: any command's lock attempt removes the
// stale lock objects it finds, and they do not stop prune.
func TestLockRemovesStaleObjects(t *testing.T) {
	c := newCLI(t)
	c.ok("ingest", t.TempDir())
	r := openRepoOf(t, c, nil)
	old := time.Now().UTC().Add(-2 * repo.StaleAfter)
	for i := 0; i < 3; i++ {
		writeAbandonedLock(t, c, r, repo.LockInfo{Time: old, Refreshed: old, Exclusive: i == 0, Host: "otherhost", PID: 100 + i, Operation: "ingest"})
	}
	c.ok("snapshots")
	if n := countObjects(filepath.Join(c.repoDir(), "locks")); n != 0 {
		t.Fatalf("%d lock objects left after a lock attempt, want 0", n)
	}
	writeAbandonedLock(t, c, r, repo.LockInfo{Time: old, Refreshed: old, Host: "otherhost", PID: 7, Operation: "ingest"})
	c.ok("prune")
	if n := countObjects(filepath.Join(c.repoDir(), "locks")); n != 0 {
		t.Fatalf("%d lock objects left after prune, want 0", n)
	}
}

// TestRetryLock: --retry-lock waits for a conflicting lock and goes on
// once it is released; when it is not, it fails with 11 after the wait.
func TestRetryLock(t *testing.T) {
	c := newCLI(t)
	c.ok("ingest", t.TempDir())
	r := openRepoOf(t, c, nil)
	ctx := context.Background()
	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, stderr, code := c.runErr("--retry-lock", "1s", "snapshots")
	if code != exitLocked || time.Since(start) < time.Second || !strings.Contains(stderr, "still locked after waiting 1s") {
		t.Fatalf("--retry-lock 1s under a held lock: exit %d after %s: %s", code, time.Since(start), stderr)
	}

	cmd := c.cmd("--retry-lock", "1m", "snapshots")
	var out bytes.Buffer
	cmd.Stdout = &out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	waiting := false
	for !waiting && sc.Scan() {
		waiting = strings.Contains(sc.Text(), "repository is locked, waiting up to 1m0s")
	}
	if !waiting {
		cmd.Wait()
		t.Fatal("cairn --retry-lock did not say that it waits")
	}
	time.Sleep(300 * time.Millisecond)
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cairn --retry-lock 1m snapshots after the lock went: %v", err)
	}
	if out.Len() == 0 {
		t.Fatal("no snapshot listed")
	}
}
