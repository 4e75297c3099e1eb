package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRestoreAgainAsUser: a user (not root) restores a snapshot whose
// folders have modes that keep their owner out (0555, 000), and restores
// it again into the same target, as after an interrupted restore or a
// lost file: the second restore must get into those folders too, and
// leave them with the snapshot's modes; --verify must read back a file
// whose mode does not let its owner read it.
func TestRestoreAgainAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	for _, d := range []string{"ro", "none"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, d, "f"), []byte("content of "+d), 0o644)
	}
	os.WriteFile(filepath.Join(src, "f"), []byte("content of ."), 0o644)
	os.WriteFile(filepath.Join(src, "unreadable"), []byte("only root reads this"), 0o200)
	modes := map[string]os.FileMode{"ro": 0o555, "none": 0, ".": 0o555}
	for d, m := range modes {
		if err := os.Chmod(filepath.Join(src, d), m); err != nil {
			t.Fatal(err)
		}
	}
	c.ok("ingest", src)

	// Let nobody run the binary and read the repository and password.
	shareWithNobody(c)
	home := t.TempDir()
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(home, "restored")
	restore := func(args ...string) {
		t.Helper()
		cmd := c.cmd(append([]string{"--no-lock", "restore", "latest:" + src, "--target", target}, args...)...)
		cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(home, "cache"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cairn restore %v as nobody: %v\n%s", args, err, out)
		}
		for d, m := range modes {
			b, err := os.ReadFile(filepath.Join(target, d, "f"))
			if err != nil || string(b) != "content of "+d {
				t.Errorf("restore %v: %s/f: %q, %v", args, d, b, err)
			}
			st, err := os.Stat(filepath.Join(target, d))
			if err != nil {
				t.Errorf("restore %v: %v", args, err)
			} else if st.Mode().Perm() != m {
				t.Errorf("restore %v: %s: mode %v, want %v", args, d, st.Mode().Perm(), m)
			}
		}
	}
	restore()
	// Files lost, and everything restored again.
	os.Remove(filepath.Join(target, "none", "f"))
	os.Remove(filepath.Join(target, "f"))
	restore()
	restore("--overwrite", "always")

	// --verify reads a file of mode 0200 back, and leaves its mode.
	os.Remove(filepath.Join(target, "unreadable"))
	restore("--verify")
	if st, err := os.Stat(filepath.Join(target, "unreadable")); err != nil || st.Mode().Perm() != 0o200 {
		t.Errorf("after restore --verify: unreadable: %v, %v; want mode 0200", st, err)
	}
}

// TestRestoreGroupAsUser: a user who cannot chown still gives restored
// files the snapshot's group when they are a member of it, as cp -a and
// rsync -a do; a group they are not in is left silently, without errors.
func TestRestoreGroupAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	owners := map[string][2]int{ // path: uid, gid in the snapshot
		"dir":        {65534, 4242},
		"dir/mine":   {65534, 4242},
		"rootowned":  {0, 4242},
		"othergroup": {65534, 0},
	}
	for p, o := range owners {
		if p != "dir" {
			os.WriteFile(filepath.Join(src, p), []byte(p), 0o644)
		}
		if err := os.Chown(filepath.Join(src, p), o[0], o[1]); err != nil {
			t.Fatal(err)
		}
	}
	c.ok("ingest", src)
	shareWithNobody(c)
	home := t.TempDir()
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(home, "restored")
	cmd := c.cmd("--no-lock", "restore", "latest:"+src, "--target", target)
	cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(home, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4242}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cairn restore as nobody (in group 4242): %v\n%s", err, out)
	}
	want := map[string]uint32{"dir": 4242, "dir/mine": 4242, "rootowned": 4242, "othergroup": 65534}
	for p, g := range want {
		st, err := os.Lstat(filepath.Join(target, p))
		if err != nil {
			t.Error(err)
			continue
		}
		if s := st.Sys().(*syscall.Stat_t); s.Uid != 65534 || s.Gid != g {
			t.Errorf("%s: owner %d:%d, want 65534:%d", p, s.Uid, s.Gid, g)
		}
	}
}

// TestRestoreInPlaceAsUser: a user restores a snapshot of their own folder
// to where it was (--target /). The folders above it (/, /tmp, ...) belong
// to root: the user cannot set their times or mode and did not ask to, so
// the restore must neither report them nor exit 1, as restic does not;
// the user's own folders still get the snapshot's metadata.
func TestRestoreInPlaceAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	home := filepath.Join(src, "home")
	if err := os.MkdirAll(filepath.Join(home, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "sub", "f"), []byte("mine"), 0o644)
	for _, p := range []string{home, filepath.Join(home, "sub"), filepath.Join(home, "sub", "f")} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(home, "sub"), mtime, mtime)
	c.ok("ingest", home)
	shareWithNobody(c, home)
	cache := t.TempDir()
	os.Chown(cache, 65534, 65534)
	now := time.Now()
	os.Chtimes(filepath.Join(home, "sub"), now, now)
	os.Remove(filepath.Join(home, "sub", "f"))
	for _, args := range [][]string{nil, {"--include", filepath.Join(home, "sub")}} {
		cmd := c.cmd(append([]string{"--no-lock", "restore", "latest", "--target", "/"}, args...)...)
		cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(cache, "c"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "not permitted") {
			t.Errorf("cairn restore latest --target / %v as nobody: %v\n%s", args, err, out)
		}
		if b, err := os.ReadFile(filepath.Join(home, "sub", "f")); err != nil || string(b) != "mine" {
			t.Errorf("restore %v: f: %q, %v", args, b, err)
		}
		if st, err := os.Stat(filepath.Join(home, "sub")); err != nil {
			t.Error(err)
		} else if !st.ModTime().Equal(mtime) {
			t.Errorf("restore %v: sub: mtime %v, want %v", args, st.ModTime(), mtime)
		}
		os.Chtimes(filepath.Join(home, "sub"), now, now)
	}
}

// TestMountRefusedAsUser: a user's mount that fusermount refuses (here: a
// mount point the user may not write) exits 1 with words saying what a
// user needs, not go-fuse's "fusermount exited with code 256".
func TestMountRefusedAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		if _, err := exec.LookPath("fusermount"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("this test needs fusermount3")
			}
			t.Skip("no fusermount3")
		}
	}
	c := newCLI(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	shareWithNobody(c, mnt)
	cache := t.TempDir()
	os.Chown(cache, 65534, 65534)
	cmd := c.cmd("--no-lock", "mount", mnt)
	cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(cache, "c"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
		}
	}()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		syscall.Unmount(mnt, syscall.MNT_DETACH)
		t.Fatalf("cairn mount as nobody on root's folder: %v, want exit 1\n%s", err, out)
	}
	if strings.Contains(string(out), "code 256") || !strings.Contains(string(out), "fusermount refused the mount") {
		t.Errorf("cairn mount as nobody: unclear error:\n%s", out)
	}
}

// shareWithNobody lets uid 65534 (nobody) run c's binary and read its
// repository and password file: search permission on every folder above
// them and above extra, read permission on the repository and password.
func shareWithNobody(c *cli, extra ...string) {
	for _, p := range append([]string{c.bin, c.repoDir(), c.passwordFile()}, extra...) {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil {
				os.Chmod(d, st.Mode().Perm()|0o011)
			}
		}
	}
	os.Chmod(c.passwordFile(), 0o644)
	filepath.WalkDir(c.repoDir(), func(p string, e fs.DirEntry, err error) error {
		if st, err := os.Stat(p); err == nil {
			os.Chmod(p, st.Mode().Perm()|0o055)
		}
		return nil
	})
}
