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
	t.Run("KeepOpen", func(t *testing.T) {
		backendtest.Run(t, func(t *testing.T) backends.Backend {
			l := newLocal(t, t.TempDir())
			l.KeepOpen("")
			return l
		})
	})
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

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("no /proc/self/fd (cairn runs on Linux): %v", err)
	}
	return len(es)
}

// With KeepOpen, loads of a kept object share one open file; a removed
// object is forgotten (and reads as missing), Close lets every file go,
// and objects outside the prefixes are opened for each load, so another
// process rewriting one is seen at once. The conformance suite runs with
// KeepOpen as well.
func TestKeepOpen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	l := newLocal(t, dir)
	l.KeepOpen("data/")
	if err := l.Create(ctx, "data/ab/pack", []byte("pack bytes")); err != nil {
		t.Fatal(err)
	}
	if err := l.Create(ctx, "locks/x", []byte("first")); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	for range 20 {
		b, err := l.Load(ctx, "data/ab/pack", 5, 5)
		if err != nil || string(b) != "bytes" {
			t.Fatalf("load: %q, %v", b, err)
		}
	}
	if n := openFDs(t) - before; n != 1 {
		t.Fatalf("20 loads of one kept object left %d files open, want 1", n)
	}
	// Another process replaces an object that is not kept.
	if err := os.WriteFile(filepath.Join(dir, "locks", "x"), []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Load(ctx, "locks/x", 0, -1); err != nil || string(b) != "second" {
		t.Fatalf("load after rewrite: %q, %v", b, err)
	}
	// Replaced through this backend: the next load reads the new object.
	if err := l.Save(ctx, "data/ab/pack", []byte("PACK BYTES")); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Load(ctx, "data/ab/pack", 5, 5); err != nil || string(b) != "BYTES" {
		t.Fatalf("load after Save: %q, %v", b, err)
	}
	if err := l.Remove(ctx, "data/ab/pack"); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t) - before; n != 0 {
		t.Fatalf("a removed object still holds %d open files", n)
	}
	if _, err := l.Load(ctx, "data/ab/pack", 0, -1); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("load of a removed kept object: %v, want ErrNotFound", err)
	}
	if err := l.Create(ctx, "data/cd/pack", []byte("other")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(ctx, "data/cd/pack", 0, -1); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if n := openFDs(t) - before; n != 0 {
		t.Fatalf("Close left %d files open", n)
	}
}
