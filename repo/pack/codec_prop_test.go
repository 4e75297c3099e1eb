package pack_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

func testKey(tb testing.TB, seed byte) *crypto.Key {
	tb.Helper()
	k, err := crypto.KeyFromMaster(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// compressible is text-like data zstd shrinks well.
func compressible(rng *rand.Rand, n int) []byte {
	words := []string{"cairn ", "backup ", "pack ", "blob ", "tree ", "snapshot\n", "index ", "0123456789 "}
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
	}
	return b[:n]
}

type plaintext struct {
	name string
	b    []byte
	// zstd: whether Seal must compress (1), must not (0), or either (-1).
	zstd int
}

func plaintexts(rng *rand.Rand) []plaintext {
	mixed := append(compressible(rng, 300<<10), randBytes(rng, 300<<10)...)
	return []plaintext{
		{"empty", []byte{}, 0},
		{"nil", nil, 0},
		{"one byte", []byte{0x42}, 0},
		{"63 zeros", make([]byte, 63), 0}, // below the compression threshold
		{"64 zeros", make([]byte, 64), 1},
		{"100 random", randBytes(rng, 100), 0},
		{"2 KiB text", compressible(rng, 2<<10), 1},
		{"4 KiB random", randBytes(rng, 4<<10), 0},
		{"1 MiB text", compressible(rng, 1<<20), 1},
		{"4 MiB zeros", make([]byte, 4<<20), 1},
		{"3 MiB random", randBytes(rng, 3<<20), 0},
		{"mixed", mixed, -1},
	}
}

func isBlobError(err error) bool {
	return errors.Is(err, pack.ErrCorrupt) || errors.Is(err, pack.ErrMismatch) || errors.Is(err, crypto.ErrAuth)
}

// positions lists the byte positions to damage in a stored blob: all of
// them for small blobs, a sample including both ends for large ones.
func positions(rng *rand.Rand, n int) []int {
	if n <= 8<<10 {
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		return p
	}
	var p []int
	for i := 0; i < 64; i++ {
		p = append(p, i, n-1-i)
	}
	for i := 0; i < 128; i++ {
		p = append(p, rng.IntN(n))
	}
	return p
}

func TestCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := pack.NewCodec(testKey(t, 1))
	for _, p := range plaintexts(rng) {
		for _, typ := range []id.BlobType{id.DataBlob, id.TreeBlob} {
			t.Run(fmt.Sprintf("%s/%s", p.name, typ), func(t *testing.T) {
				bid := c.ID(p.b)
				stored := c.Seal(nil, typ, bid, p.b)
				switch {
				case p.zstd == 0 && stored[0] != 0:
					t.Fatalf("flags %#x, want the plaintext stored as it is", stored[0])
				case p.zstd == 0 && len(stored) != len(p.b)+pack.BlobOverhead:
					t.Fatalf("stored %d bytes for %d plaintext bytes, want exactly %d overhead", len(stored), len(p.b), pack.BlobOverhead)
				case p.zstd == 1 && stored[0] != pack.FlagZstd:
					t.Fatalf("flags %#x, want zstd", stored[0])
				case stored[0]&pack.FlagZstd != 0 && len(stored)-pack.BlobOverhead >= len(p.b):
					t.Fatalf("compressed to %d bytes from %d", len(stored)-pack.BlobOverhead, len(p.b))
				}
				for _, rawLen := range []int{len(p.b), -1} {
					got, err := c.Open(nil, typ, bid, stored, rawLen)
					if err != nil {
						t.Fatalf("open (rawLen %d): %v", rawLen, err)
					}
					if !bytes.Equal(got, p.b) {
						t.Fatalf("open (rawLen %d): plaintext differs", rawLen)
					}
				}
				// A reused buffer with room receives the plaintext.
				buf := make([]byte, 7, len(p.b)+8)
				got, err := c.Open(buf, typ, bid, stored, len(p.b))
				if err != nil || !bytes.Equal(got, p.b) {
					t.Fatalf("open into buffer: %v", err)
				}
				// OpenOwned may scribble over its copy of the stored
				// blob, but its plaintext is never a part of it.
				scratch := append([]byte(nil), stored...)
				got, err = c.OpenOwned(nil, typ, bid, scratch, len(p.b))
				if err != nil || !bytes.Equal(got, p.b) {
					t.Fatalf("open owned: %v", err)
				}
				for i := range scratch {
					scratch[i] = 0xee
				}
				if !bytes.Equal(got, p.b) {
					t.Fatal("open owned: the plaintext shares the stored blob's storage")
				}
				// Seal appends after what dst holds.
				pre := c.Seal([]byte("prefix"), typ, bid, p.b)
				if string(pre[:6]) != "prefix" {
					t.Fatal("Seal overwrote dst")
				}
				if got, err := c.Open(nil, typ, bid, pre[6:], len(p.b)); err != nil || !bytes.Equal(got, p.b) {
					t.Fatalf("open after prefix: %v", err)
				}
			})
		}
	}
}

func TestCodecSealIsRandomized(t *testing.T) {
	c := pack.NewCodec(testKey(t, 1))
	p := []byte("same plaintext, twice")
	bid := c.ID(p)
	a, b := c.Seal(nil, id.DataBlob, bid, p), c.Seal(nil, id.DataBlob, bid, p)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one blob are identical: nonce reused")
	}
}

func TestCodecRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := pack.NewCodec(testKey(t, 1))
	other := pack.NewCodec(testKey(t, 2))
	for _, p := range plaintexts(rng) {
		t.Run(p.name, func(t *testing.T) {
			bid := c.ID(p.b)
			stored := c.Seal(nil, id.DataBlob, bid, p.b)
			mustFail := func(what string, err error, want ...error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: opened", what)
				}
				if len(want) == 0 && !isBlobError(err) {
					t.Fatalf("%s: unexpected error %v", what, err)
				}
				for _, w := range want {
					if !errors.Is(err, w) {
						t.Fatalf("%s: error %v, want %v", what, err, w)
					}
				}
			}
			_, err := c.Open(nil, id.TreeBlob, bid, stored, len(p.b))
			mustFail("wrong type", err, crypto.ErrAuth)
			_, err = c.Open(nil, id.BlobType(3), bid, stored, len(p.b))
			mustFail("unknown type", err, crypto.ErrAuth)
			wrong := bid
			wrong[31] ^= 1
			_, err = c.Open(nil, id.DataBlob, wrong, stored, len(p.b))
			mustFail("wrong ID", err, crypto.ErrAuth)
			_, err = other.Open(nil, id.DataBlob, bid, stored, len(p.b))
			mustFail("wrong key", err, crypto.ErrAuth)
			_, err = c.Open(nil, id.DataBlob, bid, stored, len(p.b)+1)
			mustFail("wrong raw length", err, pack.ErrCorrupt)
			_, err = c.Open(nil, id.DataBlob, bid, stored, pack.MaxBlobSize+1)
			mustFail("raw length past the limit", err, pack.ErrCorrupt)
			for _, n := range []int{0, 1, pack.BlobOverhead - 1, pack.BlobOverhead, len(stored) - 1} {
				if n >= 0 && n < len(stored) {
					_, err = c.Open(nil, id.DataBlob, bid, stored[:n], -1)
					mustFail(fmt.Sprintf("truncated to %d", n), err)
				}
			}
			_, err = c.Open(nil, id.DataBlob, bid, append(bytes.Clone(stored), 0), -1)
			mustFail("extended by one byte", err)
			for _, f := range []byte{2, 4, 0x80, 0xff} {
				bad := bytes.Clone(stored)
				bad[0] |= f
				_, err = c.Open(nil, id.DataBlob, bid, bad, -1)
				mustFail(fmt.Sprintf("flags %#x", bad[0]), err)
			}

			bad := bytes.Clone(stored)
			for _, pos := range positions(rng, len(stored)) {
				x := byte(1) << (pos % 8)
				bad[pos] ^= x
				_, err := c.Open(nil, id.DataBlob, bid, bad, len(p.b))
				mustFail(fmt.Sprintf("byte %d of %d xor %#x", pos, len(stored), x), err)
				_, err = c.Open(nil, id.DataBlob, bid, bad, -1)
				mustFail(fmt.Sprintf("byte %d of %d xor %#x, no length", pos, len(stored), x), err)
				bad[pos] ^= x
			}
		})
	}
}

// A blob sealed under an ID its plaintext does not hash to authenticates
// but must still be refused.
func TestCodecMismatch(t *testing.T) {
	c := pack.NewCodec(testKey(t, 1))
	p := []byte("the plaintext")
	liar := c.ID([]byte("another plaintext"))
	stored := c.Seal(nil, id.DataBlob, liar, p)
	if _, err := c.Open(nil, id.DataBlob, liar, stored, len(p)); !errors.Is(err, pack.ErrMismatch) {
		t.Fatalf("open: %v, want ErrMismatch", err)
	}
	// The unkeyed ID must not be the blob ID: IDs are keyed.
	if c.ID(p) == testKey(t, 2).BlobID(p) {
		t.Fatal("blob IDs of two keys agree")
	}
}

func TestCompressDecompress(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := pack.NewCodec(testKey(t, 1))
	for _, p := range plaintexts(rng) {
		z := c.Compress(p.b)
		if z == nil {
			if p.zstd == 1 {
				t.Errorf("%s: not compressed", p.name)
			}
			continue
		}
		if p.zstd == 0 {
			t.Errorf("%s: compressed", p.name)
		}
		got, err := c.Decompress(z)
		if err != nil || !bytes.Equal(got, p.b) {
			t.Errorf("%s: decompress: %v", p.name, err)
		}
	}
	if _, err := c.Decompress([]byte("not zstd at all")); err == nil {
		t.Error("decompressed garbage")
	}
}
