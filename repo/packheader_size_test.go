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
	"github.com/cairn-backup/cairn/repo/pack"
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
// file cost check 4.2 GB. A header longer than any this repository's
// writers can close a pack with is now refused as damage naming the pack,
// without being read; a full pack of tiny blobs still reads.
func TestPlantedPackHeaderRefusedBySize(t *testing.T) {
	ctx := context.Background()
	be := &boundedLoad{Backend: mem.New(), limit: 1 << 30}
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF, PackSize: 1 << 20}
	if err := Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// A full pack of tiny blobs: the longest header of a data pack here,
	// longer than the first read of a pack's end.
	s := r.NewSaver(ctx, 1)
	for i := 0; ; i++ {
		b := []byte(fmt.Sprintf("blob %d", i))
		if _, err := s.Save(id.DataBlob, r.Codec().IDFor(id.DataBlob, b), b); err != nil {
			t.Fatal(err)
		}
		if st := s.Stats(); st.Packs > 0 || i > 1e6 {
			break
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	stored, err := r.ListPacks(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	full := 0
	for _, sp := range stored {
		entries, err := r.ReadPackHeader(ctx, sp)
		if err != nil {
			t.Fatalf("real pack of %d bytes: %v", sp.Size, err)
		}
		if sp.Size >= 1<<20 && len(entries)*(1+32+2) > headerTail {
			full++
		}
	}
	if full == 0 {
		t.Fatalf("no full pack of tiny blobs among %d packs", len(stored))
	}

	// A planted pack of 16 MiB whose trailer claims a 12 MiB header.
	planted := make([]byte, 16<<20)
	binary.LittleEndian.PutUint32(planted[len(planted)-8:], 12<<20)
	copy(planted[len(planted)-4:], "CRN1")
	pid := id.ID{0xab, 0xcd}
	name := PackName(id.DataBlob, pid)
	if err := be.Save(ctx, name, planted); err != nil {
		t.Fatal(err)
	}
	be.limit = headerTail
	_, err = r.ReadPackHeader(ctx, StoredPack{ID: pid, Type: id.DataBlob, Size: int64(len(planted))})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "not read") {
		t.Fatalf("planted pack: %v, want damage naming %s, found without loading the header", err, name)
	}
	if pack.MaxSealedHeader(4<<20) >= 12<<20 {
		t.Fatal("the planted header is within the bound: the test proves nothing")
	}
}
