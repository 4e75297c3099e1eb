package restore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A folder the restore is filling, swapped for a symlink to a folder
// outside the target (by another user of a shared folder) while it runs,
// must not send what is restored next outside: the restore fails for
// those paths, and the outside folder keeps its content, modes and names.
func TestRestoreFolderSwappedForSymlink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	const n = 200
	for i := 0; i < n; i++ {
		must(t, os.WriteFile(filepath.Join(src, "d", fmt.Sprintf("f%03d", i)), []byte(fmt.Sprintf("snapshot %d\n", i)), 0o644))
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	must(t, os.Mkdir(outside, 0o700))
	for i := 0; i < n; i++ {
		must(t, os.WriteFile(filepath.Join(outside, fmt.Sprintf("f%03d", i)), []byte("outside\n"), 0o600))
	}
	dst := filepath.Join(dir, "dst")
	must(t, os.Mkdir(dst, 0o755))
	must(t, os.Symlink(outside, filepath.Join(dst, "x")))
	var once sync.Once
	var swapErr error
	_, err = restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: dst, Workers: 1, SkipOwner: os.Geteuid() != 0,
		Item: func(p string, a restore.Action, size uint64) {
			if strings.HasPrefix(p, filepath.Join(dst, "d")+"/") {
				once.Do(func() {
					swapErr = unix.Renameat2(unix.AT_FDCWD, filepath.Join(dst, "d"), unix.AT_FDCWD, filepath.Join(dst, "x"), unix.RENAME_EXCHANGE)
				})
			}
		}})
	if swapErr != nil {
		t.Fatalf("renameat2: %v", swapErr)
	}
	if err == nil {
		t.Error("restore through a folder swapped for a symlink succeeded")
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Errorf("outside holds %d entries, want %d", len(ents), n)
	}
	for _, e := range ents {
		p := filepath.Join(outside, e.Name())
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "outside\n" {
			t.Errorf("%s outside the target was written: %q %v", p, b, err)
		}
		if fi, err := os.Lstat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s outside the target was changed: %v %v", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Lstat(outside); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder outside the target was changed: %v %v", fi.Mode(), err)
	}
}
