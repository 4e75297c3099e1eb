package dump_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/dump"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Two names of one socket (ln a.sock b.sock) are both left out. The
// first was left out but taken as its group's first name, so the second
// was written as a hardlink to a name the archive does not hold, and GNU
// tar and bsdtar failed on it ("Cannot hard link to", exit 2).
func TestTarHardlinkedSocket(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "z.txt"), []byte("last"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	sock := func(name string) *tree.Node {
		return &tree.Node{Name: name, Kind: tree.KindSocket, Mode: 0o755, Links: 2, Dev: 7, Inode: 42}
	}
	sn := r.TestAddEntries(t, res.Snapshot, sock("a.sock"), sock("b.sock"))
	var left []string
	var buf bytes.Buffer
	err = dump.Tar(context.Background(), r, sn.RootNode(), "root", &buf, func(p string, err error) {
		if !errors.Is(err, dump.ErrNotInTar) {
			t.Errorf("warning %s: %v", p, err)
		}
		left = append(left, filepath.Base(p))
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeLink && !seen[h.Linkname] {
			t.Errorf("%s is a hardlink to %s, which the archive does not hold", h.Name, h.Linkname)
		}
		seen[h.Name] = true
	}
	if len(left) != 2 {
		t.Errorf("named as left out: %v, want both sockets", left)
	}
}
