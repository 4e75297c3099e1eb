package pack

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
)

// compressible returns n bytes of word-like text with repeats, a zero run
// and random stretches, as a file of logs or source would be.
func compressible(n int, seed byte) []byte {
	src := rand.NewChaCha8([32]byte{seed})
	r := rand.New(src)
	words := []string{"ingest", "pack", "blob", "tree", "snapshot", "restore", "chunk", "index", "lock", "key"}
	var b bytes.Buffer
	for b.Len() < n {
		switch r.IntN(20) {
		case 0:
			b.Write(make([]byte, r.IntN(4096)))
		case 1:
			junk := make([]byte, r.IntN(512))
			src.Read(junk)
			b.Write(junk)
		default:
			fmt.Fprintf(&b, "%s %d %s\n", words[r.IntN(len(words))], r.IntN(1000), words[r.IntN(len(words))])
		}
	}
	return b.Bytes()[:n]
}

// TestCompressorsInterchange: which engine compressed a blob is not
// stored, so a blob compressed by either (pure Go, or libzstd in a cgo
// build) must open with any codec, to the same bytes. The engines are
// used from several goroutines at once, as ingest's workers do.
func TestCompressorsInterchange(t *testing.T) {
	k, err := crypto.KeyFromMaster(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	reader := NewCodec(k)
	engines := []compressor{newGoZstd(), newCompressor()}
	sizes := []int{64, 4 << 10, 1<<20 + 3, 8 << 20}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range engines {
				w := &Codec{Key: k, enc: e, dec: newDecoder()}
				for _, n := range sizes {
					plain := compressible(n, byte(n+g))
					bid := w.ID(plain)
					sealed := w.Seal(nil, id.DataBlob, bid, plain)
					if n >= 4<<10 && (sealed[0]&FlagZstd == 0 || len(sealed) > n*3/4) {
						t.Errorf("%s: %d compressible bytes sealed to %d (flags %#x)", e.name(), n, len(sealed), sealed[0])
					}
					got, err := reader.Open(nil, id.DataBlob, bid, sealed, n)
					if err != nil {
						t.Errorf("%s: %d bytes: %v", e.name(), n, err)
						continue
					}
					if !bytes.Equal(got, plain) {
						t.Errorf("%s: %d bytes came back different", e.name(), n)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// failing is a compressor that cannot compress (libzstd out of C memory).
type failing struct{}

func (failing) compress(dst, src []byte) []byte { return nil }
func (failing) name() string                    { return "failing" }

// A compressor that fails leaves the blob stored as it is, not lost or
// taken for an empty frame.
func TestCompressorFailureStoresPlain(t *testing.T) {
	k, err := crypto.KeyFromMaster(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	w := &Codec{Key: k, enc: failing{}, dec: newDecoder()}
	for _, n := range []int{100, 1 << 20} {
		plain := compressible(n, 9)
		bid := w.ID(plain)
		sealed := w.Seal(nil, id.DataBlob, bid, plain)
		if sealed[0]&FlagZstd != 0 {
			t.Fatalf("%d bytes: flagged compressed by a compressor that failed", n)
		}
		got, err := NewCodec(k).Open(nil, id.DataBlob, bid, sealed, n)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}

// Every engine writes frames that record their content size and carry no
// checksum, as docs/FORMAT.md says (a reader sizes its buffer from the
// first; the AEAD tag does the second's work).
func TestFramesRecordTheirSize(t *testing.T) {
	for _, e := range []compressor{newGoZstd(), newCompressor()} {
		for _, n := range []int{4 << 10, 100 << 10, 1<<20 + 5} {
			plain := compressible(n, byte(n))
			z := e.compress(make([]byte, 0, compressRoom(n)), plain)
			if z == nil || len(z) >= n {
				t.Fatalf("%s: %d compressible bytes not compressed", e.name(), n)
			}
			var h zstd.Header
			if err := h.Decode(z); err != nil {
				t.Fatalf("%s: %d bytes: frame header: %v", e.name(), n, err)
			}
			if !h.HasFCS || h.FrameContentSize != uint64(n) {
				t.Errorf("%s: %d bytes: frame records content size %v (%d)", e.name(), n, h.HasFCS, h.FrameContentSize)
			}
			if h.HasCheckSum {
				t.Errorf("%s: %d bytes: frame carries a checksum", e.name(), n)
			}
		}
	}
}
