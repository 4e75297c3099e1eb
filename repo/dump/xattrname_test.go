package dump_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/dump"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// An extended attribute whose name holds '=' or '%' (Linux allows both)
// is written with its name escaped as GNU tar writes and reads it. A raw
// '=' made archive/tar refuse the header, which ended the whole archive
// there.
func TestTarXattrNameWithEquals(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "z.txt"), []byte("last"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	sn := r.TestAddEntries(t, res.Snapshot, &tree.Node{Name: "a", Kind: tree.KindFile, Mode: 0o644,
		Xattrs: []tree.Xattr{{Name: "user.a=b", Value: []byte("v")}, {Name: "user.p%q", Value: []byte("w")}}})
	var buf bytes.Buffer
	err = dump.Tar(context.Background(), r, sn.RootNode(), "root", &buf, func(p string, err error) {
		t.Errorf("warning %s: %v", p, err)
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var recs map[string]string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(h.Name))
		if filepath.Base(h.Name) == "a" {
			recs = h.PAXRecords
		}
	}
	if names[len(names)-1] != "z.txt" {
		t.Errorf("archive holds %v, want it to go on to z.txt", names)
	}
	if recs["SCHILY.xattr.user.a%3Db"] != "v" || recs["SCHILY.xattr.user.p%25q"] != "w" {
		t.Errorf("records of a: %q, want the names escaped as GNU tar does", recs)
	}
}
