package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stderrOf runs cairn and returns its stderr and exit code.
func (c *cli) stderrOf(args ...string) (string, int) {
	c.t.Helper()
	var errb bytes.Buffer
	cmd := c.cmd(args...)
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return errb.String(), ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("cairn %v: %v", args, err)
	}
	return errb.String(), 0
}

// readOnlyBind bind-mounts dir read-only at a new path, which it returns:
// storage this user cannot write, even as root.
func readOnlyBind(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root, to bind-mount a repository read-only")
		}
		t.Skip("needs root")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(ro, 0o755)
	if out, err := exec.Command("mount", "--bind", dir, ro).CombinedOutput(); err != nil {
		t.Fatalf("mount --bind: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", ro).Run() })
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	return ro
}

// A repository on storage this user cannot write (here a read-only bind
// mount) cannot be locked: the commands that only read it say so and point
// to --no-lock, with which they list, check and restore it. A command that
// writes refuses --no-lock.
func TestNoLockReadOnlyRepository(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 5, 100<<10, 7)
	c.ok("ingest", "-q", src)
	r := newCLIAt(t, readOnlyBind(t, c.repoDir()))

	for _, args := range [][]string{{"snapshots"}, {"ls", "latest"}, {"restore", "latest", "--target", t.TempDir()}} {
		stderr, code := r.stderrOf(args...)
		if code != 1 || !strings.Contains(stderr, "read-only file system") || !strings.Contains(stderr, "--no-lock reads without one") {
			t.Fatalf("cairn %v on a read-only repository: exit %d, stderr %q: want 1 and a pointer to --no-lock", args, code, stderr)
		}
	}

	if out := r.ok("--no-lock", "snapshots"); !strings.Contains(out, "1 snapshot") {
		t.Fatalf("snapshots --no-lock: %q", out)
	}
	if out := r.ok("--no-lock", "ls", "latest:"+src); strings.Count(out, "\n") != 6 {
		t.Fatalf("ls --no-lock: %q", out)
	}
	r.ok("--no-lock", "check", "--read-data")
	dst := t.TempDir()
	r.ok("--no-lock", "restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)

	stderr, code := c.stderrOf("--no-lock", "ingest", src)
	if code != 1 || !strings.Contains(stderr, "--no-lock is only for commands that read the repository; ingest writes to it") {
		t.Fatalf("ingest --no-lock: exit %d, stderr %q", code, stderr)
	}
}

// The TUI's restore takes the shared lock too: on a repository this user
// cannot write it says why it cannot and points to --no-lock, with which
// it restores.
func TestNoLockTUIRestoreFromReadOnlyRepository(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	if err := os.WriteFile(filepath.Join(src, "only.txt"), []byte("the only file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("ingest", "-q", src)
	r := newCLIAt(t, readOnlyBind(t, c.repoDir()))

	restore := func(global, dst string) string {
		cmd := strings.TrimSuffix(tuiCommand(r), " tui") + global + " tui " + shellQuote("latest:"+src)
		s := startTmux(t, 120, 35, cmd+"; echo cairn-exited-$?; sleep 60")
		s.wait("only.txt")
		s.keys("Space", "R")
		s.wait("Restore 1 marked")
		s.keys("Right", "Tab", "C-u")
		s.text(dst)
		s.keys("Enter")
		scr := s.wait("esc closes")
		s.keys("Escape")
		s.wait("only.txt")
		s.keys("q", "q", "q")
		s.wait("cairn-exited-0")
		return scr
	}
	dst := filepath.Join(t.TempDir(), "dst")
	scr := restore("", dst)
	if !strings.Contains(scr, "read-only file system") || !strings.Contains(scr, "--no-lock") {
		t.Fatalf("restore from a read-only repository without --no-lock:\n%s", scr)
	}
	if _, err := os.Stat(filepath.Join(dst, "only.txt")); err == nil {
		t.Fatal("restored without the lock it said it could not take")
	}
	scr = restore(" --no-lock", dst)
	if got, err := os.ReadFile(filepath.Join(dst, "only.txt")); err != nil || string(got) != "the only file\n" {
		t.Fatalf("restore with --no-lock: %q, %v\n%s", got, err, scr)
	}
}

// Only a lock that cannot be written is pointed to --no-lock: a reading
// command that fails before it locks (here its cache folder, and the
// temporary folder for a private one, are on a read-only mount) says what failed, not that --no-lock would help.
func TestNoLockHintOnlyForTheLock(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 2, 10<<10, 3)
	c.ok("ingest", "-q", src)
	ro := readOnlyBind(t, t.TempDir())
	// and no other place for a private one either
	r := newCLIAt(t, c.repoDir(), "CAIRN_CACHE_DIR="+filepath.Join(ro, "cache"), "TMPDIR="+ro)
	for _, args := range [][]string{{"snapshots"}, {"ls", "latest"}} {
		stderr, code := r.stderrOf(args...)
		if code != 1 || !strings.Contains(stderr, "read-only file system") || strings.Contains(stderr, "--no-lock") {
			t.Fatalf("cairn %v with a read-only cache folder: exit %d, stderr %q: want 1, the cache's error and no pointer to --no-lock", args, code, stderr)
		}
	}
}

// prune --dry-run only reads, so --no-lock lets it run without a lock, as
// restic's prune --dry-run --no-lock: on storage this user cannot write it
// says what a prune would free (it was refused as a command that writes),
// and it changes nothing in the cache but the index. A prune that is not
// a dry run still refuses --no-lock.
func TestNoLockPruneDryRun(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 200<<10, 9)
	c.ok("ingest", "-q", src)
	os.WriteFile(filepath.Join(src, "new"), []byte("new"), 0o644)
	c.ok("ingest", "-q", src)
	c.ok("forget", "-q", "latest")
	r := newCLIAt(t, readOnlyBind(t, c.repoDir()))
	r.ok("--no-lock", "snapshots") // fills the cache as any reader does
	cache := r.getenv("CAIRN_CACHE_DIR")
	before := cacheListing(t, cache)
	out := r.ok("--no-lock", "prune", "--dry-run")
	if !strings.Contains(out, "would free:") {
		t.Fatalf("prune --dry-run --no-lock said %q", out)
	}
	if after := cacheListing(t, cache); after != before {
		t.Errorf("prune --dry-run --no-lock changed the cache beyond its index:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	stderr, code := r.stderrOf("--no-lock", "prune")
	if code != 1 || !strings.Contains(stderr, "--no-lock is only for commands that read the repository; prune writes to it") {
		t.Fatalf("prune --no-lock: exit %d, stderr %q", code, stderr)
	}
}

// cacheListing lists the files under dir with their sizes and mtimes,
// leaving out the index cache (index.db), which any reader refreshes.
func cacheListing(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasPrefix(fi.Name(), "index.db") {
			return nil
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	return b.String()
}

// forget --dry-run only reads, so --no-lock lets it say what a policy
// would remove from storage this user cannot write, as restic's forget
// --dry-run --no-lock (it was refused as a command that writes); its JSON
// lines say it was a dry run. A forget that is not a dry run still
// refuses --no-lock.
func TestNoLockForgetDryRun(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 2, 10<<10, 3)
	c.ok("ingest", "-q", src)
	os.WriteFile(filepath.Join(src, "new"), []byte("new"), 0o644)
	c.ok("ingest", "-q", src)
	r := newCLIAt(t, readOnlyBind(t, c.repoDir()))
	if out := r.ok("--no-lock", "forget", "--dry-run", "--keep-last", "1"); !strings.Contains(out, "would remove 1 snapshot (dry run: nothing removed)") {
		t.Fatalf("forget --dry-run --no-lock said %q", out)
	}
	out := r.ok("--no-lock", "--json", "forget", "--dry-run", "--keep-last", "1")
	if !strings.Contains(out, `"message_type":"group"`) || !strings.Contains(out, `"dry_run":true`) {
		t.Errorf("forget --json --dry-run printed %q", out)
	}
	stderr, code := r.stderrOf("--no-lock", "forget", "--keep-last", "1")
	if code != 1 || !strings.Contains(stderr, "--no-lock is only for commands that read the repository; forget writes to it") {
		t.Fatalf("forget --no-lock: exit %d, stderr %q", code, stderr)
	}
	if got := strings.Count(c.ok("snapshots", "--json"), `"id"`); got != 2 {
		t.Errorf("after the dry runs the repository holds %d snapshots, want 2", got)
	}
}
