package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDryRunIntoClosedFolderAsUser: a user whose folder was made 000
// (chmod -R 000, as by a destructive mistake) checks a rollback with
// restore --delete --dry-run first. The restore opens such a folder of
// theirs up and deletes what the snapshot lacks in it; the dry run could
// not look into it and foretold errors, exit 1 and no deletions in it or
// in the folders above. It must foretell what the restore does, and leave
// the folder's mode as it was.
func TestDryRunIntoClosedFolderAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	home := filepath.Join(t.TempDir(), "home")
	conf := filepath.Join(home, "conf")
	if err := os.MkdirAll(filepath.Join(conf, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(conf, "app", "config"), []byte("x=1"), 0o644)
	os.WriteFile(filepath.Join(home, "doc"), []byte("doc"), 0o644)
	c.ok("ingest", home)
	os.WriteFile(filepath.Join(home, "NOTE"), []byte("pay"), 0o644)
	os.WriteFile(filepath.Join(conf, "NOTE"), []byte("pay"), 0o644)
	os.WriteFile(filepath.Join(conf, "app", "NOTE"), []byte("pay"), 0o644)
	filepath.WalkDir(home, func(p string, e fs.DirEntry, err error) error {
		os.Lchown(p, 65534, 65534)
		return nil
	})
	for _, p := range []string{c.bin, c.repoDir(), c.passwordFile(), home} {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil {
				os.Chmod(d, st.Mode().Perm()|0o011)
			}
		}
	}
	// The folders above home readable too, as /home is: the delete pass
	// opens them.
	for d := filepath.Dir(home); d != "/"; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil {
			os.Chmod(d, st.Mode().Perm()|0o055)
		}
	}
	os.Chmod(c.passwordFile(), 0o644)
	filepath.WalkDir(c.repoDir(), func(p string, e fs.DirEntry, err error) error {
		if st, err := os.Stat(p); err == nil {
			os.Chmod(p, st.Mode().Perm()|0o055)
		}
		return nil
	})
	cache := t.TempDir()
	os.Chown(cache, 65534, 65534)
	os.Chmod(filepath.Join(conf, "app"), 0)
	os.Chmod(conf, 0)
	run := func(args ...string) string {
		t.Helper()
		cmd := c.cmd(append([]string{"--no-lock", "restore", "latest", "--target", "/", "--delete"}, args...)...)
		cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(cache, "c"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("cairn restore %v as nobody: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("--dry-run", "-v")
	for _, p := range []string{filepath.Join(home, "NOTE"), filepath.Join(conf, "NOTE"), filepath.Join(conf, "app", "NOTE")} {
		if !strings.Contains(out, "deleted   "+p+"\n") {
			t.Errorf("the dry run does not foretell that %s is deleted:\n%s", p, out)
		}
	}
	if !strings.Contains(out, "3 deleted, 0 errors") {
		t.Errorf("the dry run does not foretell 3 deleted, 0 errors:\n%s", out)
	}
	for _, p := range []string{conf, filepath.Join(conf, "app")} {
		if st, err := os.Lstat(p); err != nil || st.Mode().Perm() != 0 {
			t.Errorf("after the dry run %s: %v, %v; want mode 000 kept", p, st.Mode(), err)
		}
	}
	if out := run(); !strings.Contains(out, "3 deleted, 0 errors") {
		t.Errorf("the restore did not delete 3 with 0 errors:\n%s", out)
	}
}

// TestDeleteThroughSearchOnlyFolderAsUser: a user restores their folder
// in place with --delete where a folder above it lets them through but not
// read it (0711, as /home often is). The delete pass opened every folder
// from the target down for reading, so it deleted nothing, said
// "permission denied" and exited 1.
func TestDeleteThroughSearchOnlyFolderAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to run cairn as another user)")
		}
		t.Skip("needs root")
	}
	c := newCLI(t)
	top := filepath.Join(t.TempDir(), "top")
	home := filepath.Join(top, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(home, "doc"), []byte("doc"), 0o644)
	c.ok("ingest", home)
	os.WriteFile(filepath.Join(home, "NOTE"), []byte("pay"), 0o644)
	filepath.WalkDir(home, func(p string, e fs.DirEntry, err error) error {
		os.Lchown(p, 65534, 65534)
		return nil
	})
	for _, p := range []string{c.bin, c.repoDir(), c.passwordFile(), home} {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil {
				os.Chmod(d, st.Mode().Perm()|0o011)
			}
		}
	}
	os.Chmod(top, 0o711)
	os.Chmod(c.passwordFile(), 0o644)
	filepath.WalkDir(c.repoDir(), func(p string, e fs.DirEntry, err error) error {
		if st, err := os.Stat(p); err == nil {
			os.Chmod(p, st.Mode().Perm()|0o055)
		}
		return nil
	})
	cache := t.TempDir()
	os.Chown(cache, 65534, 65534)
	for _, args := range [][]string{{"--dry-run"}, nil} {
		cmd := c.cmd(append([]string{"--no-lock", "restore", "latest", "--target", "/", "--delete"}, args...)...)
		cmd.Env = append(cmd.Env, "CAIRN_CACHE_DIR="+filepath.Join(cache, "c"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "1 deleted, 0 errors") {
			t.Errorf("cairn restore --delete %v as nobody: %v; want 1 deleted, 0 errors:\n%s", args, err, out)
		}
	}
	if _, err := os.Lstat(filepath.Join(home, "NOTE")); err == nil {
		t.Error("NOTE, which the snapshot lacks, was not deleted")
	}
	if b, err := os.ReadFile(filepath.Join(home, "doc")); err != nil || string(b) != "doc" {
		t.Errorf("doc: %q, %v", b, err)
	}
}
