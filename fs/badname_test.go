package fs_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A folder holding an entry with an invalid name shows every other entry;
// the bad one is left out and named in the log.
func TestMountSkipsInvalidNames(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("first"), 0o644)
	os.WriteFile(filepath.Join(src, "z.txt"), []byte("last"), 0o644)
	r, _ := localRepo(t)
	sn := ingestPath(t, r, src)
	sn = r.TestAddEntries(t, sn, &tree.Node{Name: "..", Kind: tree.KindFile, Mode: 0o644})

	mnt, logs := mount(t, r, cfs.Options{})
	dir := filepath.Join(mnt, "ids", sn.ID.Short())
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list the folder: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "a.txt,z.txt" {
		t.Fatalf("folder shows %q, want a.txt and z.txt", names)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "z.txt")); err != nil || string(b) != "last" {
		t.Fatalf("z.txt: %q %v", b, err)
	}
	if l := logs.String(); !strings.Contains(l, `invalid name ".."`) {
		t.Fatalf("the log should name the entry left out:\n%s", l)
	}
}
