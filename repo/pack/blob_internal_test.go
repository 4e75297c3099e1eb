package pack

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
)

// TestLooksIncompressible: random data is recognised, and random data
// with a repeated block or a zero run is not, at every chunk size up to the
// largest data blob. A full table must not hang the check.
func TestLooksIncompressible(t *testing.T) {
	k, err := crypto.KeyFromMaster(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCodec(k)
	for _, size := range []int{64 << 10, 1 << 20, 3<<20 + 17, 8 << 20, 20 << 20} {
		rnd := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(size)}).Read(rnd)
		if !c.looksIncompressible(nil, rnd) {
			t.Errorf("%d random bytes: not recognised as incompressible", size)
		}
		if size > 8<<20 {
			continue // coarser windows beyond the largest data chunk
		}
		rep := append([]byte(nil), rnd...)
		copy(rep[100+4096*7:], rep[100:100+8192]) // a block repeated 28 KiB on, at an odd offset
		if c.looksIncompressible(nil, rep) {
			t.Errorf("%d bytes with a repeated block: called incompressible", size)
		}
		z := append([]byte(nil), rnd...)
		copy(z[size/4+7:], make([]byte, 16<<10))
		if c.looksIncompressible(nil, z) {
			t.Errorf("%d bytes with a zero run: called incompressible", size)
		}
		if got := c.Seal(nil, 1, [32]byte{}, rnd); got[0] != 0 {
			t.Errorf("%d random bytes sealed with flags %#x, want stored as they are", size, got[0])
		}
	}
}

// OpenOwned (verify-before-write's open) opens what Seal made, and refuses
// a frame that does not decode to the promised length, or at all: what
// compression gone wrong would look like.
func TestOpenOwnedRefusesBadFrames(t *testing.T) {
	k, err := crypto.KeyFromMaster(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := NewCodec(k)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{0, 1, 100, 64 << 10, 1<<20 + 3} {
		plain := make([]byte, size)
		for i := range plain {
			plain[i] = "abcdefgh"[rng.IntN(8)] // compressible
		}
		bid := c.ID(plain)
		stored := c.Seal(nil, id.DataBlob, bid, plain)
		got, err := c.OpenOwned(nil, id.DataBlob, bid, append([]byte(nil), stored...), size)
		if err != nil || string(got) != string(plain) {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if size >= 64<<10 && stored[0]&FlagZstd == 0 {
			t.Fatalf("%d compressible bytes were not compressed", size)
		}
	}
	// Frames sealed as if compression had gone wrong.
	plain := make([]byte, 5000)
	bid := c.ID(plain)
	seal := func(body []byte) []byte {
		buf := append(make([]byte, 1+crypto.NonceSize), body...)
		buf[0] = FlagZstd
		sealed := c.Key.SealInPlace(buf[1:], blobAD(id.DataBlob, FlagZstd, bid))
		return append([]byte{FlagZstd}, sealed...)
	}
	short := c.Compress(plain[:4000])
	for name, stored := range map[string][]byte{
		"a frame of 4000 bytes for 5000": seal(short),
		"not a frame":                    seal([]byte("this is not zstd at all, not even close")),
		"a frame cut short":              seal(c.Compress(plain)[:8]),
	} {
		if _, err := c.OpenOwned(nil, id.DataBlob, bid, stored, len(plain)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
