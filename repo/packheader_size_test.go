package repo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo/id"
)

// boundedLoad fails every Load of more than limit bytes, as if it would
// exhaust memory.
type boundedLoad struct {
	backends.Backend
	limit int64
}

func (b *boundedLoad) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if n > b.limit || n < 0 {
		return nil, fmt.Errorf("loaded %d bytes of %s at once", n, name)
	}
	return b.Backend.Load(ctx, name, off, n)
}

// A pack planted (or grown) under data/ whose trailer claimed a header of
// GiBs made check load that much and open it into as much again: a 3 GiB
// file cost check 4.2 GB. Such a header is now authenticated in pieces
// before it is loaded, and refused as damage; a real header longer than
// trustedHeader (here lowered) still reads.
func TestLargePackHeaderAuthenticatedInPieces(t *testing.T) {
	defer func(n int64) { trustedHeader = n }(trustedHeader)
	trustedHeader = 1 << 10
	ctx := context.Background()
	be := &boundedLoad{Backend: mem.New(), limit: 1 << 30}
	r := TestRepositoryOn(t, be)

	// A real pack of 3000 tiny blobs: a header of some 110 KiB.
	s := r.NewSaver(ctx, 1)
	for i := 0; i < 3000; i++ {
		b := []byte(fmt.Sprintf("blob %d", i))
		if _, err := s.Save(id.DataBlob, r.Codec().IDFor(id.DataBlob, b), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	stored, err := r.ListPacks(ctx, nil)
	if err != nil || len(stored) != 1 {
		t.Fatalf("ListPacks: %d packs, %v", len(stored), err)
	}
	for _, sp := range stored {
		entries, err := r.ReadPackHeader(ctx, sp)
		if err != nil || len(entries) != 3000 {
			t.Fatalf("real pack of %d bytes: %d entries, %v", sp.Size, len(entries), err)
		}
	}

	// A planted pack of 8 MiB whose trailer claims a 6 MiB header.
	planted := make([]byte, 8<<20)
	binary.LittleEndian.PutUint32(planted[len(planted)-8:], 6<<20)
	copy(planted[len(planted)-4:], "CRN1")
	pid := id.ID{0xab, 0xcd}
	name := PackName(id.DataBlob, pid)
	if err := be.Save(ctx, name, planted); err != nil {
		t.Fatal(err)
	}
	be.limit = 2 << 20
	_, err = r.ReadPackHeader(ctx, StoredPack{ID: pid, Type: id.DataBlob, Size: int64(len(planted))})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("planted pack: %v, want damage naming %s, found without loading the header whole", err, name)
	}
}
