package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A folder holding one entry with a name no folder can hold ("..", "a/b",
// "", NUL) is restored without that entry: every sibling is, the entry is
// named in a warning, and the restore fails as for damaged data. Nothing is
// written outside the target.
func TestRestoreSkipsInvalidNames(t *testing.T) {
	for _, bad := range []string{"..", "a/b", "", "x\x00y", ".", "../escape"} {
		f := newDamageFixture(t, map[string][]byte{"a.txt": []byte("first"), "z.txt": []byte("last")})
		sn := f.r.TestAddEntries(t, f.res.Snapshot, &tree.Node{Name: bad, Kind: tree.KindFile, Mode: 0o644})
		var warned []string
		dst := filepath.Join(t.TempDir(), "target")
		_, err := restore.Run(context.Background(), f.r, sn, f.src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0,
			Warn: func(p string, err error) {
				warned = append(warned, p+": "+err.Error())
				if !errors.Is(err, repo.ErrDamaged) {
					t.Errorf("warning %v: not ErrDamaged", err)
				}
			}})
		if !errors.Is(err, restore.ErrIncomplete) {
			t.Fatalf("%q: restore: %v, want ErrIncomplete", bad, err)
		}
		for name, want := range map[string]string{"a.txt": "first", "z.txt": "last"} {
			got, err := os.ReadFile(filepath.Join(dst, name))
			if err != nil || string(got) != want {
				t.Errorf("%q: %s: %q %v, want %q", bad, name, got, err, want)
			}
		}
		ents, _ := os.ReadDir(dst)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		if strings.Join(names, ",") != "a.txt,z.txt" {
			t.Errorf("%q: target holds %v", bad, names)
		}
		if _, err := os.Lstat(filepath.Join(filepath.Dir(dst), "escape")); err == nil {
			t.Errorf("%q: written outside the target", bad)
		}
		all := strings.Join(warned, "\n")
		if len(warned) != 1 || !strings.Contains(all, "invalid name "+strconvQuote(bad)) {
			t.Errorf("%q: want one warning naming the entry, got:\n%s", bad, all)
		}
	}
}

func strconvQuote(s string) string { return strconv.Quote(s) }
