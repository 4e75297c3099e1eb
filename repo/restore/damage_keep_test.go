package restore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A file in the target that the snapshot's copy would replace stays as it
// was when that copy turns out damaged: a copy with zeros where chunks are
// lost replaced an intact older version (or the same content with another
// mtime), which was then gone for good. The error names the file and the
// pack and says the file was kept; a file a restore left damaged before is
// still replaced, and a new file is still restored around its damage.
func TestDamagedCopyKeepsExistingFile(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 600<<10)
	for i := range data {
		data[i] = byte(i*7 + i/4096)
	}
	f := newDamageFixture(t, map[string][]byte{"doc.bin": data, "other.txt": []byte("other")})
	n := f.node(t, "doc.bin")
	loc := f.damage(t, n.Content[0].ID)

	for _, overwrite := range []restore.Overwrite{restore.IfChanged, restore.Always} {
		dst := t.TempDir()
		old := []byte("the version the user had, whole")
		p := filepath.Join(dst, "doc.bin")
		os.WriteFile(p, old, 0o644)
		then := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		os.Chtimes(p, then, then)
		var warned []string
		_, err := restore.Run(ctx, f.r, f.res.Snapshot, f.src, restore.Options{Target: dst, Overwrite: overwrite, SkipOwner: os.Geteuid() != 0,
			Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }})
		if !errors.Is(err, restore.ErrIncomplete) {
			t.Fatalf("%v: restore over a damaged pack: %v, want ErrIncomplete", overwrite, err)
		}
		all := strings.Join(warned, "\n")
		if got, _ := os.ReadFile(p); !bytes.Equal(got, old) {
			t.Fatalf("%v: the file that was there was replaced by the damaged copy (%d bytes):\n%s", overwrite, len(got), all)
		}
		if fi, _ := os.Stat(p); fi == nil || !fi.ModTime().Equal(then) {
			t.Fatalf("%v: the kept file's mtime changed: %v", overwrite, fi)
		}
		if len(warned) != 1 || !strings.Contains(all, "doc.bin: kept the file that was there") || !strings.Contains(all, loc.Pack.String()) {
			t.Fatalf("%v: want one warning naming doc.bin, saying it was kept, and the pack %s:\n%s", overwrite, loc.Pack, all)
		}
		if got, _ := os.ReadFile(filepath.Join(dst, "other.txt")); string(got) != "other" {
			t.Fatalf("%v: other.txt not restored", overwrite)
		}
		if left, _ := filepath.Glob(filepath.Join(dst, ".*"+restore.PartialSuffix+"*")); len(left) > 0 {
			t.Fatalf("%v: temporaries left: %v", overwrite, left)
		}
	}

	// Into an empty folder the damaged copy is restored around its
	// damage, and a second restore over that copy replaces it: only a
	// whole file is kept.
	dst := t.TempDir()
	for range 2 {
		var warned []string
		_, err := restore.Run(ctx, f.r, f.res.Snapshot, f.src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0,
			Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }})
		if !errors.Is(err, restore.ErrIncomplete) || !strings.Contains(strings.Join(warned, "\n"), "left as zeros") {
			t.Fatalf("restore into a folder without the file: %v\n%s", err, strings.Join(warned, "\n"))
		}
		got, _ := os.ReadFile(filepath.Join(dst, "doc.bin"))
		c0 := int(n.Content[0].Size)
		if len(got) != len(data) || !bytes.Equal(got[c0:], data[c0:]) {
			t.Fatalf("doc.bin not restored around its damage: %d bytes", len(got))
		}
	}
}

// A folder in the way of a file whose copy is damaged stays, with all it
// holds: --overwrite always (and --delete) replace such a folder, which
// the copy with zeros did, so the folder's files were gone for a file the
// snapshot does not have whole.
func TestDamagedCopyKeepsFolderInTheWay(t *testing.T) {
	ctx := context.Background()
	f := newDamageFixture(t, map[string][]byte{"doc.bin": bytes.Repeat([]byte("doc "), 100<<10), "other.txt": []byte("other")})
	n := f.node(t, "doc.bin")
	loc := f.damage(t, n.Content[0].ID)
	for _, opt := range []restore.Options{{Overwrite: restore.Always}, {Overwrite: restore.IfChanged, Delete: true}} {
		dst := t.TempDir()
		mine := filepath.Join(dst, "doc.bin", "mine.txt")
		if err := os.Mkdir(filepath.Dir(mine), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(mine, []byte("the user's own"), 0o644)
		var warned []string
		opt.Target, opt.SkipOwner = dst, os.Geteuid() != 0
		opt.Warn = func(p string, err error) { warned = append(warned, p+": "+err.Error()) }
		_, err := restore.Run(ctx, f.r, f.res.Snapshot, f.src, opt)
		all := strings.Join(warned, "\n")
		if !errors.Is(err, restore.ErrIncomplete) {
			t.Fatalf("always %v, delete %v: restore over a damaged pack: %v, want ErrIncomplete\n%s", opt.Overwrite == restore.Always, opt.Delete, err, all)
		}
		if got, err := os.ReadFile(mine); string(got) != "the user's own" {
			t.Fatalf("always %v, delete %v: the folder in the way was replaced by the damaged copy: %v\n%s", opt.Overwrite == restore.Always, opt.Delete, err, all)
		}
		if len(warned) != 1 || !strings.Contains(all, "doc.bin: kept the folder that was there") || !strings.Contains(all, loc.Pack.String()) {
			t.Fatalf("always %v, delete %v: want one warning naming doc.bin, saying the folder was kept, and the pack %s:\n%s", opt.Overwrite == restore.Always, opt.Delete, loc.Pack, all)
		}
		if got, _ := os.ReadFile(filepath.Join(dst, "other.txt")); string(got) != "other" {
			t.Fatalf("always %v, delete %v: other.txt not restored", opt.Overwrite == restore.Always, opt.Delete)
		}
		if left, _ := filepath.Glob(filepath.Join(dst, ".*"+restore.PartialSuffix+"*")); len(left) > 0 {
			t.Fatalf("always %v, delete %v: temporaries left: %v", opt.Overwrite == restore.Always, opt.Delete, left)
		}
	}
}

// A file a killed restore left at its name (cut short, with its writing
// mode, newer than the snapshot's copy) is no file of the user's to keep:
// a damaged copy replaces it, as an intact one does.
func TestDamagedCopyReplacesKilledRestoresFile(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("doc "), 100<<10)
	f := newDamageFixture(t, map[string][]byte{"doc.bin": data})
	n := f.node(t, "doc.bin")
	f.damage(t, n.Content[0].ID)
	dst := t.TempDir()
	p := filepath.Join(dst, "doc.bin")
	if err := os.WriteFile(p, data[:1000], 0o200); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o200) // whatever the umask
	var warned []string
	_, err := restore.Run(ctx, f.r, f.res.Snapshot, f.src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0,
		Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }})
	all := strings.Join(warned, "\n")
	if !errors.Is(err, restore.ErrIncomplete) || !strings.Contains(all, "left as zeros") || strings.Contains(all, "kept the") {
		t.Fatalf("restore over a killed restore's file, with a damaged copy: %v\n%s", err, all)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(data)) || fi.Mode().Perm() == 0o200 {
		t.Fatalf("the killed restore's file was not replaced by the damaged copy: %v %v", fi, err)
	}
}
