package local_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/backends/local"
)

// Root writing into a repository folder another user owns (sudo cairn
// ingest into ~alice/backup) gives what it creates that user's owner and
// group: alice's own commands could no longer read root's 0600 files, nor
// write into root's 0700 folders.
func TestRootWritesAsFolderOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root: this test needs it")
		}
		t.Skip("needs root")
	}
	for _, owner := range [][2]int{{65534, 65534}, {0, 0}} {
		dir := filepath.Join(t.TempDir(), "repo")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, owner[0], owner[1]); err != nil {
			t.Fatal(err)
		}
		l, err := local.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		name := "data/ab/ab" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
		if err := l.Save(ctx, name, []byte("pack")); err != nil {
			t.Fatal(err)
		}
		if err := l.Create(ctx, "config", []byte("config")); err != nil {
			t.Fatal(err)
		}
		f, err := l.TempFile()
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("big pack")
		if err := l.SaveFile(ctx, "data/cd/cd"+name[len("data/ab/ab"):], f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		l.Close()
		for _, p := range []string{"data", "data/ab", name, "config", "data/cd", "data/cd/cd" + name[len("data/ab/ab"):]} {
			fi, err := os.Lstat(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Uid) != owner[0] || int(st.Gid) != owner[1] {
				t.Errorf("folder owned by %d:%d: %s is %d:%d", owner[0], owner[1], p, st.Uid, st.Gid)
			}
		}
	}
}

// The folder's owner may put symlinks in it: data/ab pointing at a folder
// of root's (/etc/apt/apt.conf.d, read by root's apt). What root then
// writes through it lands there, and must stay root's: given to the
// folder's owner, they could write into it whatever root reads from that
// folder. Only what lies in a folder the owner owns is given to them.
func TestRootDoesNotGiveAwayFilesOutsideOwnersFolders(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root: this test needs it")
		}
		t.Skip("needs root")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "repo")
	outside := filepath.Join(base, "rootonly") // root's, 0700
	for _, d := range []string{dir, outside, filepath.Join(dir, "data")} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, "data")} {
		if err := os.Chown(d, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"ab", "cd"} {
		if err := os.Symlink(outside, filepath.Join(dir, "data", d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	l, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
	if err := l.Save(ctx, "data/ab/ab"+hex, []byte("pack")); err != nil {
		t.Fatal(err)
	}
	if err := l.Create(ctx, "keys/"+hex, []byte("key")); err != nil {
		t.Fatal(err)
	}
	f, err := l.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("big pack")
	if err := l.SaveFile(ctx, "data/cd/cd"+hex, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A new folder in the owner's, and a file in it.
	if err := l.Save(ctx, "snapshots/"+hex, []byte("snap")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 3 {
		t.Errorf("%d entries outside, want the 3 written there", len(entries))
	}
	for _, e := range entries {
		fi, err := os.Lstat(filepath.Join(outside, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s, in a folder of root's, was given %d:%d", e.Name(), st.Uid, st.Gid)
		}
	}
	// What is in the owner's own folders is still theirs.
	fi, err := os.Lstat(filepath.Join(dir, "snapshots", hex))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 {
		t.Errorf("snapshots/%s is %d's, want the folder owner's", hex, st.Uid)
	}
}
