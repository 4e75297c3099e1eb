package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ensureDir makes sure folder dir (under the root) and its parents exist
// and that their entries are durable. Each folder is created or checked and
// its parent fsynced once per Local, even when it already existed: another
// writer may have made it without having synced the parent yet.
func (l *Local) ensureDir(dir string) error {
	if _, ok := l.dirs.Load(dir); ok {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent == dir {
		return fmt.Errorf("repository folder %s is missing", l.root)
	}
	if err := l.ensureDir(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		l.own(parent, filepath.Base(dir), nil)
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	l.dirs.Store(dir, struct{}{})
	return nil
}

// forgetDirs drops dir and its parents below the root from the cache of
// known folders, after finding one deleted behind our back.
func (l *Local) forgetDirs(dir string) {
	for d := dir; d != l.root && d != filepath.Dir(d); d = filepath.Dir(d) {
		l.dirs.Delete(d)
	}
}

// mkdirAll is os.MkdirAll with mode 0700 that also fsyncs the parent of
// every folder it creates.
func mkdirAll(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err := mkdirAll(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o700)
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// syncDir fsyncs a folder so the entries just added or removed in it are
// durable. File systems that cannot fsync a folder (EINVAL, ENOTSUP) are
// taken to order such changes themselves. (A variable for the tests that
// count the syncs.)
var syncDir = syncDirNow

func syncDirNow(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
