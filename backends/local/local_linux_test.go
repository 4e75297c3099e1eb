package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends/local"
)

// mountTmpfs mounts a tmpfs of the given size on a new temporary folder,
// unmounted when the test ends. It skips the test if not root, or if root
// is not allowed to mount (a container without CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root: mounting a tmpfs must work")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700")
	if errors.Is(err, syscall.EPERM) && os.Getenv("CI") != "true" {
		t.Skipf("mount tmpfs: %v", err)
	}
	if err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestSaveNoSpace(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	l := newLocal(t, dir)
	ctx := t.Context()
	small := bytes.Repeat([]byte("s"), 100<<10)
	big := make([]byte, 2<<20)
	if err := l.Save(ctx, "data/ab/small", small); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"data/cd/big", "data/ab/small"} {
		err := l.Save(ctx, name, big)
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), name) {
			t.Errorf("save of 2 MiB into 1 MiB: %v, want ENOSPC naming %s", err, name)
		}
		t.Logf("error reads: %v", err)
		if err := l.Create(ctx, name+"-new", big); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("create of 2 MiB into 1 MiB: %v, want ENOSPC", err)
		}
	}
	if found := tempFiles(t, dir); len(found) > 0 {
		t.Errorf("temporary files left after ENOSPC: %v", found)
	}
	if got, err := l.Load(ctx, "data/ab/small", 0, -1); err != nil || !bytes.Equal(got, small) {
		t.Errorf("object changed by a failed replacement: %d bytes, %v", len(got), err)
	}
	if err := l.Save(ctx, "data/cd/next", small); err != nil {
		t.Errorf("save after ENOSPC (space should be freed): %v", err)
	}
}

func TestSaveReadOnly(t *testing.T) {
	var dir string
	if os.Geteuid() == 0 {
		// Root ignores permission bits; a read-only mount stops it.
		dir = mountTmpfs(t, "1m")
	} else {
		dir = t.TempDir()
	}
	l := newLocal(t, dir)
	ctx := t.Context()
	if err := l.Save(ctx, "data/ab/abcd", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
	} else {
		ab := filepath.Join(dir, "data", "ab")
		if err := os.Chmod(ab, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(ab, 0o700) })
	}

	err := l.Save(ctx, "data/ab/abce", []byte("y"))
	if err == nil {
		t.Fatal("save into a read-only folder succeeded")
	}
	if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EACCES) || !strings.Contains(err.Error(), "data/ab/abce") {
		t.Errorf("save into a read-only folder: %v, want EROFS or EACCES naming the object", err)
	}
	t.Logf("error reads: %v", err)
	if got, err := l.Load(ctx, "data/ab/abcd", 0, -1); err != nil || string(got) != "x" {
		t.Errorf("existing object after a failed save: %q, %v", got, err)
	}
}

// A pack saved from a file leaves no copy in the page cache: a backup
// writes gigabytes that nothing reads back soon, and the machine's own
// programs keep their cache.
func TestSaveFileLeavesNoCache(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI's temporary folder is on a disk, not tmpfs")
		}
		t.Skip("the temporary folder is on tmpfs, whose pages are the files themselves")
	}
	l, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("pack bytes "), 400_000)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := l.SaveFile(context.Background(), "data/ab/abcd", f); err != nil {
		t.Fatal(err)
	}
	got, err := os.Open(filepath.Join(dir, "data/ab/abcd"))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(got.Fd()), &unix.CachestatRange{}, &cs, 0); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI's machine has cachestat (Linux 6.5): %v", err)
		}
		t.Skipf("cachestat: %v", err)
	}
	if cs.Cache > 2 {
		t.Fatalf("%d pages of the saved pack are in the page cache", cs.Cache)
	}
	b, err := io.ReadAll(got)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("the saved pack reads back wrong (%d bytes, %v)", len(b), err)
	}
}
