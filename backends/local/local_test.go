package local_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/local"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend { return newLocal(t, t.TempDir()) })
}

func newLocal(t *testing.T, dir string) *local.Local {
	t.Helper()
	l, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tempFiles returns the temporary files left anywhere under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			found = append(found, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func listNames(t *testing.T, l *local.Local, prefix string) []string {
	t.Helper()
	var names []string
	err := l.List(t.Context(), prefix, func(fi backends.Info) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return names
}

func TestOpenAndCreate(t *testing.T) {
	base := t.TempDir()
	if _, err := local.Open(filepath.Join(base, "missing")); err == nil {
		t.Error("open of a missing folder succeeded")
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(file); err == nil {
		t.Error("open of a file succeeded")
	}

	dir := filepath.Join(base, "new", "repo")
	l := newLocal(t, dir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if l.Location() != "local:"+dir {
		t.Errorf("location %q, want %q", l.Location(), "local:"+dir)
	}
	if err := l.Save(t.Context(), "data/ab/abcd", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "ab", "abcd")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("object file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "ab")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("object folder: %v, %v; want mode 0700", fi.Mode(), err)
	}
	if _, err := local.Create(dir); err != nil {
		t.Errorf("create of an existing repository: %v", err)
	}

	// A repository reached through a symbolic link lists like any other.
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	l2, err := local.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, l2, ""); len(got) != 1 || got[0] != "data/ab/abcd" {
		t.Errorf("list through symbolic link = %v", got)
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	ctx := t.Context()
	for _, name := range []string{"config", "data/ab/abcd", "data/ab/abcd", "keys/k1"} {
		if err := l.Save(ctx, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Create(ctx, "locks/l1", []byte("l")); err != nil {
		t.Fatal(err)
	}
	if err := l.Create(ctx, "config", []byte("again")); !errors.Is(err, backends.ErrExists) {
		t.Fatalf("create over config: %v", err)
	}
	if found := tempFiles(t, dir); len(found) > 0 {
		t.Errorf("temporary files left behind: %v", found)
	}
}

// TestStrayTempFile plays the aftermath of a crash in the middle of Save.
func TestStrayTempFile(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	ctx := t.Context()
	if err := l.Save(ctx, "data/ab/abcd", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, stray := range []string{".tmp-123", "data/ab/.tmp-456", "data/.tmp-789"} {
		if err := os.WriteFile(filepath.Join(dir, stray), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Save(ctx, "data/ab/abce", []byte("y")); err != nil {
		t.Fatalf("save beside a stray temporary file: %v", err)
	}
	for _, prefix := range []string{"", "data/", "data/ab/"} {
		if got := listNames(t, l, prefix); len(got) != 2 {
			t.Errorf("list %q = %v, want the two objects", prefix, got)
		}
	}
}

// TestFoldersAreNotObjects checks that an empty folder cannot be mistaken
// for an object, nor removed as one.
func TestFoldersAreNotObjects(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	ctx := t.Context()
	if err := l.Save(ctx, "data/ef/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(ctx, "data/ef/x"); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(ctx, "data/ef"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("remove of an empty folder: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "ef")); err != nil {
		t.Errorf("folder gone after a refused remove: %v", err)
	}
	if got := listNames(t, l, ""); len(got) != 0 {
		t.Errorf("list shows %v in an empty repository", got)
	}
}

func TestTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	if err := l.Save(t.Context(), "data/ab/abcd", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "data", "ab", "abcd"), 50); err != nil {
		t.Fatal(err)
	}
	_, err := l.Load(t.Context(), "data/ab/abcd", 40, 20)
	if !errors.Is(err, backends.ErrRange) || !strings.Contains(err.Error(), "data/ab/abcd") {
		t.Errorf("load past a truncated end: %v, want ErrRange naming the object", err)
	}
}

// TestFolderDeletedBehindOurBack checks that Save recreates a folder it
// had already made once.
func TestFolderDeletedBehindOurBack(t *testing.T) {
	dir := t.TempDir()
	l := newLocal(t, dir)
	ctx := t.Context()
	if err := l.Save(ctx, "data/ab/abcd", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	if err := l.Save(ctx, "data/ab/abce", []byte("y")); err != nil {
		t.Fatalf("save after the folder was deleted: %v", err)
	}
}

// TestSymlinkedFolder covers a "data" folder moved to another disk and
// replaced by a symbolic link.
func TestSymlinkedFolder(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	l := newLocal(t, dir)
	if err := l.Save(t.Context(), "data/ab/abcd", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "ab", "abcd")); err != nil {
		t.Errorf("object not stored through the link: %v", err)
	}
	for _, prefix := range []string{"", "data/", "data/ab/a"} {
		if got := listNames(t, l, prefix); len(got) != 1 {
			t.Errorf("list %q = %v, want data/ab/abcd", prefix, got)
		}
	}
}

func TestRemoveStaleTemp(t *testing.T) {
	l, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old, _ := l.TempFile()
	old.Close()
	fresh, _ := l.TempFile()
	fresh.Close()
	long := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old.Name(), long, long)
	if n, err := l.RemoveStaleTemp(24 * time.Hour); err != nil || n != 1 {
		t.Fatalf("removed %d, %v; want the one stale file", n, err)
	}
	if _, err := os.Stat(old.Name()); !os.IsNotExist(err) {
		t.Fatal("stale temporary file survived")
	}
	if _, err := os.Stat(fresh.Name()); err != nil {
		t.Fatalf("a fresh temporary file was removed: %v", err)
	}
}
