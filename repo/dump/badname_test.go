package dump_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/dump"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A folder holding an entry with an invalid name is dumped without it:
// its siblings are in the tar, and the entry is named in a warning.
func TestTarSkipsInvalidNames(t *testing.T) {
	src := t.TempDir()
	for name, b := range map[string]string{"a.txt": "first", "z.txt": "last"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	sn := r.TestAddEntries(t, res.Snapshot, &tree.Node{Name: "a/b", Kind: tree.KindFile, Mode: 0o644})
	var warned []string
	var buf bytes.Buffer
	err = dump.Tar(context.Background(), r, sn.RootNode(), "root", &buf, func(p string, err error) {
		warned = append(warned, p+": "+err.Error())
		if !errors.Is(err, repo.ErrDamaged) {
			t.Errorf("warning %v: not ErrDamaged", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[filepath.Base(h.Name)] = string(b)
	}
	if got["a.txt"] != "first" || got["z.txt"] != "last" {
		t.Errorf("tar holds %v, want a.txt and z.txt", got)
	}
	if all := strings.Join(warned, "\n"); len(warned) != 1 || !strings.Contains(all, `invalid name "a/b"`) {
		t.Errorf("want one warning naming the entry, got:\n%s", all)
	}
}
