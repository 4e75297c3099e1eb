package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A file whose tree gives a chunk a size its blob does not have (a
// damaged or foreign writer; restore refuses it as damaged): reading it
// through the mount used to slice the blob past its end and crash the
// whole mount with a panic, or serve the wrong bytes. It is now EIO.
func TestChunkSizeMismatchIsEIO(t *testing.T) {
	requireFUSE(t)
	ctx := context.Background()
	r, _ := localRepo(t)
	s := r.NewSaver(ctx, 1)
	short := []byte("ten bytes!")
	bid := r.Codec().IDFor(id.DataBlob, short)
	if _, err := s.Save(id.DataBlob, bid, short); err != nil {
		t.Fatal(err)
	}
	root, err := s.SaveTree([]*tree.Node{
		{Name: "long", Kind: tree.KindFile, Mode: 0o644, Size: 100, Content: []tree.Chunk{{ID: bid, Size: 100}}},
		{Name: "ok", Kind: tree.KindFile, Mode: 0o644, Size: 10, Content: []tree.Chunk{{ID: bid, Size: 10}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Tree: root, Paths: []string{"/"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	mnt, _ := mount(t, r, cfs.Options{})
	if _, err := os.ReadFile(filepath.Join(mnt, "latest", "long")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading a file whose chunk is shorter than its tree says: %v, want EIO", err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "latest", "ok")); err != nil || string(b) != string(short) {
		t.Fatalf("the sound file after: %q, %v", b, err)
	}
}
