package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
)

var _ backends.FileSaver = (*Local)(nil)

// TempFile creates a temporary file at the top of the repository folder,
// on the same filesystem as every object, so SaveFile can rename it.
func (l *Local) TempFile() (*os.File, error) {
	return l.tempFile(l.root)
}

// SaveFile fsyncs f, renames it to the object's path and fsyncs the
// folder. A file on another filesystem is copied instead.
func (l *Local) SaveFile(ctx context.Context, name string, f *os.File) error {
	defer os.Remove(f.Name()) // a no-op once renamed
	if err := check(ctx, "save", name); err != nil {
		f.Close()
		return err
	}
	err := f.Sync()
	if err == nil {
		// The pack is on disk: its pages in the page cache are not
		// wanted again soon (a restore or check reads it cold much
		// later), and handed back now they take the next pack's
		// writes instead of memory the kernel must find afresh.
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
	ino := l.inode(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	target := l.path(name)
	dir := filepath.Dir(target)
	if err := l.ensureDir(dir); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	defer l.open.forget(name) // a kept file of the old object
	err = os.Rename(f.Name(), target)
	if errors.Is(err, syscall.EXDEV) {
		return l.copyFile(ctx, name, f.Name())
	}
	if err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	l.own(dir, filepath.Base(target), ino)
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}

func (l *Local) copyFile(ctx context.Context, name, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	defer src.Close()
	data, err := io.ReadAll(src)
	if err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return l.Save(ctx, name, data)
}

// RemoveStaleTemp deletes the temporary pack files at the top of the
// repository that nobody has written to for longer than age: what a killed
// ingest leaves behind. A live writer touches its file at least every few
// seconds, so a generous age never removes one in use.
func (l *Local) RemoveStaleTemp(age time.Duration) (int, error) {
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < age {
			continue
		}
		if os.Remove(filepath.Join(l.root, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}
