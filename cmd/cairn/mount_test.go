package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

func requireFUSE(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err == nil {
		f.Close()
	}
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("this test needs root and a usable /dev/fuse (%v)", err)
		}
		t.Skip("needs root and /dev/fuse")
	}
}

func mounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		// mountinfo escapes a space (TMPDIR may hold some) as \040.
		if f := strings.Fields(line); len(f) > 4 && fsmeta.UnescapeMountinfo(f[4]) == dir {
			return true
		}
	}
	return false
}

// startMount runs cairn mount in the background and waits for the tree.
func (c *cli) startMount(mnt string) (*exec.Cmd, *bytes.Buffer) {
	c.t.Helper()
	var stderr bytes.Buffer
	cmd := c.cmd("mount", mnt)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		if mounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		cmd.Process.Kill()
	})
	deadline := time.Now().Add(20 * time.Second)
	for !mounted(mnt) {
		if time.Now().After(deadline) {
			c.t.Fatalf("cairn mount did not mount within 20 s: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, &stderr
}

func exitCodeOf(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("cairn mount still running %v later", within)
		return -1
	}
}

// TestMountCommand runs cairn mount as a user would: the tree equals the
// source, an ingest by another process meanwhile works with the shared
// local index and shows up, SIGTERM and umount both end it with exit 0.
func TestMountCommand(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 100_000, 1)
	c.ok("ingest", src, "--host", "h", "--source", "s")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)

	cmd, stderr := c.startMount(mnt)
	sameFiles(t, src, filepath.Join(mnt, "latest"))

	// Another process ingests while the tree is mounted.
	os.WriteFile(filepath.Join(src, "new"), []byte("new file"), 0o644)
	ing := c.cmd("ingest", src, "--host", "h", "--source", "s")
	var ingErr bytes.Buffer
	ing.Stderr = &ingErr
	if err := ing.Run(); err != nil {
		t.Fatalf("ingest while mounted: %v\n%s", err, ingErr.String())
	}
	if strings.Contains(ingErr.String(), "busy") {
		t.Errorf("the mount kept the shared local index from ingest: %s", ingErr.String())
	}
	// The mount refreshes every 3 s; a loaded machine may take longer.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(mnt, "latest", "new")); err == nil && string(b) == "new file" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new snapshot did not appear within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCodeOf(t, cmd, 10*time.Second); code != 0 {
		t.Fatalf("cairn mount after SIGTERM: exit %d: %s", code, stderr.String())
	}
	if mounted(mnt) {
		t.Fatal("still mounted after SIGTERM")
	}

	cmd, stderr = c.startMount(mnt)
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	if code := exitCodeOf(t, cmd, 10*time.Second); code != 0 {
		t.Fatalf("cairn mount after umount: exit %d: %s", code, stderr.String())
	}

	if _, code := c.run("mount", filepath.Join(mnt, "missing")); code != exitFailure {
		t.Fatalf("mount on a missing folder: exit %d, want %d", code, exitFailure)
	}
}

// TestStaleMount: a cairn mount or daemon killed while mounted leaves a
// dead FUSE mount (ENOTCONN) behind; the next mount on the same folder
// detaches it, says so in one line, and mounts.
func TestStaleMount(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 2, 10_000, 4)
	c.ok("ingest", src, "--host", "h", "--source", "s")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	stale := func(who string) {
		t.Helper()
		// The kernel may answer stat from the root's cached attributes
		// for a second; then ENOTCONN, as for a user after a crash.
		// Polled generously: a loaded machine may be slow to notice.
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if _, err = os.Stat(mnt); errors.Is(err, syscall.ENOTCONN) {
				return
			}
		}
		t.Fatalf("after SIGKILL of %s: stat of the mount point: %v; want ENOTCONN", who, err)
	}

	t.Run("cairn mount", func(t *testing.T) {
		cmd, _ := c.startMount(mnt)
		cmd.Process.Kill()
		cmd.Wait()
		stale("cairn mount")
		// The stale mount is still listed: wait for cairn to say it
		// mounted, not for the listing.
		stderr := &syncBuffer{}
		cmd = c.cmd("mount", mnt)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		waitFor(t, "cairn mount on the stale mount point", 20*time.Second, func() bool {
			return strings.Contains(stderr.String(), "Ctrl-C or umount to unmount")
		})
		sameFiles(t, src, filepath.Join(mnt, "latest"))
		if n := strings.Count(stderr.String(), "detached the stale mount"); n != 1 {
			t.Errorf("cairn mount said %d times that it detached the stale mount: %s", n, stderr.String())
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exitCodeOf(t, cmd, 10*time.Second); code != 0 {
			t.Fatalf("cairn mount after SIGTERM: exit %d: %s", code, stderr.String())
		}
	})

	t.Run("daemon", func(t *testing.T) {
		work := t.TempDir()
		sock := filepath.Join(socketDir(t), "cairn.sock")
		cfgPath := filepath.Join(work, "cairn.yaml")
		os.WriteFile(cfgPath, []byte(fmt.Sprintf("repository: %s\npassword_file: %s\ncache_dir: %s\nsocket: %s\nmount:\n  path: %s\n",
			c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, mnt)), 0o600)
		t.Cleanup(func() {
			if mounted(mnt) {
				syscall.Unmount(mnt, syscall.MNT_DETACH)
			}
		})
		d := startDaemon(t, c, cfgPath, sock)
		d.stop(syscall.SIGKILL, 10*time.Second)
		stale("the daemon")
		d = startDaemon(t, c, cfgPath, sock)
		d.waitLog(`mount: mount point `+regexp.QuoteMeta(mnt)+`: detached the stale mount a dead process left there`, 0)
		sameFiles(t, src, filepath.Join(mnt, "latest"))
		if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
			t.Fatalf("exit %d after SIGTERM", code)
		}
		if mounted(mnt) {
			t.Fatal("still mounted after SIGTERM")
		}
	})
}

// TestMountHelpRsyncKeepsHoles runs the rsync command cairn mount --help
// gives for copying a machine back, as a user would copy it from there:
// a sparse file must come out sparse, not with its holes written out as
// zeros (which fills the new disk with a large sparse file's length).
func TestMountHelpRsyncKeepsHoles(t *testing.T) {
	requireFUSE(t)
	if _, err := exec.LookPath("rsync"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rsync is not installed (make deps installs it)")
		}
		t.Skip("needs rsync")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	const size = 64 << 20
	f, err := os.Create(filepath.Join(src, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("head"), 0)
	f.WriteAt([]byte("tail"), size-4)
	f.Close()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(src, "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= 1<<20 {
		t.Skipf("the file system of %s keeps no holes", src)
	}
	c.ok("ingest", src, "--host", "h", "--source", "s")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	c.startMount(mnt)

	help := c.ok("mount", "--help")
	m := regexp.MustCompile(`"(rsync [^"]*MOUNTPOINT/latest/ /target/)"`).FindStringSubmatch(help)
	if m == nil {
		t.Fatalf("cairn mount --help names no rsync command from MOUNTPOINT/latest/ to /target/:\n%s", help)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	args := strings.Fields(strings.NewReplacer("MOUNTPOINT", mnt, "/target/", dst+"/").Replace(m[1]))
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dst, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size || string(b[:4]) != "head" || string(b[size-4:]) != "tail" {
		t.Fatalf("%s: the copy has %d bytes, not the source's content", m[1], len(b))
	}
	if err := syscall.Stat(filepath.Join(dst, "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= 1<<20 {
		t.Fatalf("%s: the copy of a %d MiB file with 8 bytes of data takes %d KiB: its holes were written out",
			m[1], size>>20, st.Blocks/2)
	}
}

// A terminal or ssh session that goes away sends cairn mount SIGHUP: it
// unmounts and exits 0 as on SIGTERM, instead of dying and leaving a
// mount point that answers "transport endpoint is not connected". Under
// nohup (SIGHUP ignored) it keeps serving.
func TestMountHangup(t *testing.T) {
	requireFUSE(t)
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 2, 10_000, 1)
	c.ok("ingest", src)
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)

	cmd, stderr := c.startMount(mnt)
	cmd.Process.Signal(syscall.SIGHUP)
	if code := exitCodeOf(t, cmd, 10*time.Second); code != 0 {
		t.Fatalf("cairn mount after SIGHUP: exit %d: %s", code, stderr.String())
	}
	if mounted(mnt) {
		t.Fatal("still mounted after SIGHUP: the mount point is left dead")
	}

	// As nohup starts it.
	nohup := exec.Command("sh", "-c", `trap "" HUP; exec "$@"`, "sh", c.bin, "mount", mnt)
	nohup.Env = c.env
	var nerr bytes.Buffer
	nohup.Stderr = &nerr
	if err := nohup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if mounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		nohup.Process.Kill()
	})
	deadline := time.Now().Add(20 * time.Second)
	for !mounted(mnt) {
		if time.Now().After(deadline) {
			t.Fatalf("cairn mount under nohup did not mount within 20 s: %s", nerr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	nohup.Process.Signal(syscall.SIGHUP)
	time.Sleep(time.Second)
	if _, err := os.ReadDir(filepath.Join(mnt, "latest")); err != nil || !mounted(mnt) {
		t.Fatalf("cairn mount under nohup stopped serving after SIGHUP: %v\n%s", err, nerr.String())
	}
	nohup.Process.Signal(syscall.SIGTERM)
	if code := exitCodeOf(t, nohup, 10*time.Second); code != 0 {
		t.Fatalf("cairn mount under nohup after SIGTERM: exit %d: %s", code, nerr.String())
	}
}
