package fuzz

import (
	"bytes"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

var seedPlaintexts = []struct {
	name string
	b    []byte
}{
	{"empty", nil},
	{"byte", []byte{0}},
	{"text", []byte("a small blob of text")},
	{"compressible", bytes.Repeat([]byte("cairn backup "), 100)},
	{"binary", []byte{0xff, 0xfe, 0, 1, 2, 0x80, 0x7f}},
}

func FuzzBlobOpen(f *testing.F) {
	c := codec()
	var seeds []seed
	for _, p := range seedPlaintexts {
		for _, t := range []id.BlobType{id.DataBlob, id.TreeBlob} {
			bid := c.ID(p.b)
			seeds = append(seeds, seed{p.name + "-" + t.String(), []any{c.Seal(nil, t, bid, p.b), bid[:], byte(t), int64(len(p.b))}})
		}
	}
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, stored, bidBytes []byte, typ byte, rawLen int64) {
		var bid id.ID
		copy(bid[:], bidBytes)
		if rawLen < -1 || rawLen > 1<<40 {
			rawLen = -1
		}
		var plain []byte
		var err error
		bounded(t, allocLimit(len(stored)), func() { plain, err = c.Open(nil, id.BlobType(typ), bid, stored, int(rawLen)) })
		if err != nil {
			wantErr(t, err, pack.ErrCorrupt, pack.ErrMismatch, crypto.ErrAuth)
			return
		}
		if c.ID(plain) != bid || (rawLen >= 0 && int64(len(plain)) != rawLen) {
			t.Fatalf("opened a blob that does not match its ID or length")
		}
		again, err := c.Open(nil, id.BlobType(typ), bid, c.Seal(nil, id.BlobType(typ), bid, plain), len(plain))
		if err != nil || !bytes.Equal(again, plain) {
			t.Fatalf("resealed blob: %v", err)
		}
	})
}

// FuzzBlobSeal checks Seal and Open round-trip any plaintext, and that the
// zstd flag is set only when it saved space.
func FuzzBlobSeal(f *testing.F) {
	c := codec()
	var seeds []seed
	for _, p := range seedPlaintexts {
		seeds = append(seeds, seed{p.name, []any{p.b, byte(id.DataBlob)}})
	}
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, plain []byte, typ byte) {
		bid := c.ID(plain)
		stored := c.Seal(nil, id.BlobType(typ), bid, plain)
		body := len(stored) - pack.BlobOverhead
		switch stored[0] {
		case 0:
			if body != len(plain) {
				t.Fatalf("stored as it is, but %d bytes for %d", body, len(plain))
			}
		case pack.FlagZstd:
			if body >= len(plain) {
				t.Fatalf("compressed %d bytes to %d", len(plain), body)
			}
		default:
			t.Fatalf("flags %#x", stored[0])
		}
		got, err := c.Open(nil, id.BlobType(typ), bid, stored, len(plain))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("open: %v", err)
		}
	})
}

// FuzzBlobDecompress feeds the zstd decoder what only an authenticated
// blob or object could bring it, bounding what it may allocate.
func FuzzBlobDecompress(f *testing.F) {
	c := codec()
	var seeds []seed
	for _, p := range seedPlaintexts {
		if z := c.Compress(p.b); z != nil {
			seeds = append(seeds, seed{p.name, []any{z}})
		}
	}
	seeds = append(seeds, seed{"not-zstd", []any{[]byte("not zstd")}})
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, z []byte) {
		var out []byte
		var err error
		// A valid frame may expand a lot (RLE blocks); what matters is
		// that the decoder never goes past the blob size limit.
		bounded(t, 2*pack.MaxBlobSize, func() { out, err = c.Decompress(z) })
		if err != nil {
			return
		}
		if len(out) > pack.MaxBlobSize {
			t.Fatalf("decompressed to %d bytes, past the limit", len(out))
		}
		if z2 := c.Compress(out); z2 != nil {
			if back, err := c.Decompress(z2); err != nil || !bytes.Equal(back, out) {
				t.Fatalf("recompressed: %v", err)
			}
		}
	})
}
