package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// cairnBinary builds the real binary once, for tests that must kill it.
func cairnBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "cairn")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
		// Tests run it as nobody too: executable by all, whatever the
		// umask (the folders above are opened to them by those tests).
		os.Chmod(builtBin, 0o755)
	})
	if buildErr != nil {
		t.Fatalf("build cairn: %v", buildErr)
	}
	return builtBin
}

type cli struct {
	t   *testing.T
	bin string
	env []string
}

func newCLI(t *testing.T) *cli {
	c := newCLIAt(t, filepath.Join(t.TempDir(), "repo"))
	c.ok("init", "--insecure-kdf")
	return c
}

// newCLIAt runs cairn on the repository at location with its own cache
// folder (as another host would have) and the extra environment env.
func newCLIAt(t *testing.T, location string, env ...string) *cli {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte("crash test password\n"), 0o600)
	return &cli{t: t, bin: cairnBinary(t), env: append(append(os.Environ(),
		"CAIRN_REPOSITORY="+location, "CAIRN_PASSWORD_FILE="+pw, "CAIRN_CACHE_DIR="+filepath.Join(dir, "cache")), env...)}
}

func (c *cli) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	return cmd
}

// run returns stdout and the exit code.
func (c *cli) run(args ...string) (string, int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	cmd := c.cmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("cairn %v: %v", args, err)
	}
	if code != 0 {
		c.t.Logf("cairn %v: exit %d: %s", args, code, errb.String())
	}
	return out.String(), code
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("cairn %v: exit %d", args, code)
	}
	return out
}

func (c *cli) repoDir() string { return c.getenv("CAIRN_REPOSITORY") }

func (c *cli) passwordFile() string { return c.getenv("CAIRN_PASSWORD_FILE") }

// getenv is the last value of variable v in the commands' environment.
func (c *cli) getenv(v string) string {
	out := ""
	for _, e := range c.env {
		if val, ok := strings.CutPrefix(e, v+"="); ok {
			out = val
		}
	}
	return out
}

func writeRandomFiles(t *testing.T, dir string, n int, size int, seed uint64) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		rng.Read(buf)
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i))), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	out, err := exec.Command("diff", "-r", a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("diff -r %s %s: %v\n%s", a, b, err, out)
	}
}

func countObjects(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n
}

// TestKilledIngest kills ingest with SIGKILL at many moments. After each,
// the repository opens, every earlier snapshot restores, and the next
// ingest reuses what the killed ones stored.
func TestKilledIngest(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("builds and kills the real binary")
	}
	c := newCLI(t)
	c.env = append(c.env, "CAIRN_CHECKPOINT_MIB=16")
	work := t.TempDir()
	base := filepath.Join(work, "base")
	writeRandomFiles(t, base, 3, 100<<10, 1)
	c.ok("ingest", base, "--source", "base")
	src := filepath.Join(work, "src")
	const total = 12 * (16 << 20)
	writeRandomFiles(t, src, 12, 16<<20, 2)

	check := func(when string) {
		t.Helper()
		out := c.ok("snapshots", "--json", "--source", "base")
		var sns []map[string]any
		if err := json.Unmarshal([]byte(out), &sns); err != nil || len(sns) != 1 {
			t.Fatalf("%s: snapshots --json: %v %q", when, err, out)
		}
		dst := filepath.Join(t.TempDir(), "restored")
		c.ok("restore", "latest:"+base, "--source", "base", "--target", dst)
		sameFiles(t, base, dst)
	}

	// Kill at fixed moments, then once right after a checkpoint landed.
	for _, d := range []time.Duration{30 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, 900 * time.Millisecond} {
		cmd := c.cmd("ingest", src, "--source", "big")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		check("after kill at " + d.String())
	}
	indexDir := filepath.Join(c.repoDir(), "index")
	before := countObjects(indexDir)
	cmd := c.cmd("ingest", src, "--source", "big")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for countObjects(indexDir) == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if countObjects(indexDir) == before {
		t.Fatal("no index checkpoint was written before the kill")
	}
	check("after kill past a checkpoint")

	out := c.ok("ingest", src, "--source", "big", "--json")
	var sum struct {
		MessageType string `json:"message_type"`
		DataAdded   int64  `json:"data_added"`
		SnapshotID  string `json:"snapshot_id"`
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		json.Unmarshal([]byte(l), &sum)
		if sum.MessageType == "summary" {
			break
		}
	}
	if sum.MessageType != "summary" {
		t.Fatalf("no summary in %q", out)
	}
	if sum.DataAdded > total-16<<20 {
		t.Fatalf("ingest after the kills added %d of %d bytes: it did not reuse what the killed ingests stored", sum.DataAdded, total)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	c.ok("restore", "latest:"+src, "--source", "big", "--target", dst)
	sameFiles(t, src, dst)
	check("at the end")
}

// TestLockConflict: a live exclusive lock makes commands exit 11, and a
// lock left by a killed process on this host does not.
func TestLockConflict(t *testing.T) {
	c := newCLI(t)
	ctx := context.Background()
	be, err := local.Open(c.repoDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte("crash test password"), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	if _, code := c.run("snapshots"); code != exitLocked {
		t.Fatalf("snapshots under an exclusive lock: exit %d, want %d", code, exitLocked)
	}
	if _, code := c.run("ingest", t.TempDir()); code != exitLocked {
		t.Fatalf("ingest under an exclusive lock: exit %d, want %d", code, exitLocked)
	}
	l.Unlock()
	c.ok("snapshots")

	// A killed ingest leaves its lock; it is stale because its process is gone.
	src := t.TempDir()
	writeRandomFiles(t, src, 4, 16<<20, 3)
	cmd := c.cmd("ingest", src)
	cmd.Start()
	deadline := time.Now().Add(time.Minute)
	for countObjects(filepath.Join(c.repoDir(), "locks")) == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := r.Lock(ctx, true, "prune"); err != nil {
		t.Fatalf("exclusive lock after a killed ingest: %v", err)
	}
}
