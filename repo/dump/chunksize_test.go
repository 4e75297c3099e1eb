package dump_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/dump"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A chunk whose blob is shorter than its tree says (a damaged or foreign
// writer) made dump write a shorter file with no error. It is now damage,
// as restore and the mount report it.
func TestDumpChunkSizeMismatch(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	short := []byte("ten bytes!")
	bid := r.Codec().IDFor(id.DataBlob, short)
	if _, err := s.Save(id.DataBlob, bid, short); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	n := &tree.Node{Name: "long", Kind: tree.KindFile, Mode: 0o644, Size: 100, Content: []tree.Chunk{{ID: bid, Size: 100}}}
	var out bytes.Buffer
	err := dump.File(ctx, r, n, &out)
	if !errors.Is(err, repo.ErrDamaged) {
		t.Fatalf("dump of a file whose chunk is short: %v after %d bytes, want damage", err, out.Len())
	}
	ok := &tree.Node{Name: "ok", Kind: tree.KindFile, Mode: 0o644, Size: 10, Content: []tree.Chunk{{ID: bid, Size: 10}}}
	out.Reset()
	if err := dump.File(ctx, r, ok, &out); err != nil || out.String() != string(short) {
		t.Fatalf("dump of the sound file: %q, %v", out.String(), err)
	}
}
