package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// A file renamed over between the walk's lstat and the read is recorded
// as the file that was read: its whole content, with its own size, mode
// and inode, not the new bytes cut to the old file's size under the old
// file's mode.
func TestFileReplacedBeforeRead(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	p := filepath.Join(src, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := fsmeta.StatNoXattrs(p)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(src, "f.new")
	newData := "a longer replacement"
	if err := os.WriteFile(tmp, []byte(newData), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	g := &ingester{ctx: ctx, r: r, saver: r.NewDryRunSaver(ctx)}
	w := &fileWorker{g: g}
	fj := &fileJob{path: p, node: n}
	_, size, err := w.readFile(fj)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(len(newData)) || fj.node.Size != uint64(len(newData)) {
		t.Errorf("read %d bytes, node size %d, want %d", size, fj.node.Size, len(newData))
	}
	if fj.node.Mode&0o777 != 0o600 {
		t.Errorf("mode %#o recorded, want the replacement's 0600", fj.node.Mode&0o777)
	}
}
