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
