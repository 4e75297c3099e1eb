package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// TestOneFileSystemDoesNotOpenMountPoint: reading inode flags must not
// open a mount point --one-file-system leaves out (an automount point
// would be mounted, a dead NFS server waited on), as the ingest did not
// before flags were kept. An inotify watch on the mounted root sees any
// open.
func TestOneFileSystemDoesNotOpenMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to mount a tmpfs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "here"), "x")
	mnt := filepath.Join(src, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, mnt, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	r := repo.TestRepository(t)
	if _, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, OneFileSystem: true}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, err := unix.Read(in, buf); n > 0 {
		t.Errorf("the mount point left out was opened (%d bytes of inotify events)", n)
	} else if err != unix.EAGAIN {
		t.Fatalf("read inotify: %v", err)
	}
}
