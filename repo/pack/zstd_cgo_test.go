//go:build cgo

package pack

import (
	"bytes"
	"testing"
)

// libzstd's parameters stick to a context from one call to the next. A
// pooled context must compress a small blob after a large one (tuned
// parameters) exactly as a fresh one does, and the reverse: otherwise
// small files would be compressed with tables meant for large chunks, and
// which blob came first would change what is stored.
func TestLibzstdParametersDoNotStick(t *testing.T) {
	small := compressible(100<<10, 1)
	large := compressible(TunedMin+5, 2)
	fresh := func(b []byte) []byte { return newCctx().compress(nil, b, len(b) >= TunedMin) }
	wantSmall, wantLarge := fresh(small), fresh(large)
	if wantSmall == nil || wantLarge == nil {
		t.Fatal("compressible input not compressed")
	}
	// The tuned parameters are in use for the large blob: level 3's own
	// make another frame of it.
	if plain3 := newCctx().compress(nil, large, false); bytes.Equal(plain3, wantLarge) {
		t.Fatal("the tuned parameters make the same frame as level 3's own")
	}
	c := &cZstd{pool: make(chan *cctx, 1)} // one context for every call
	c.pool <- nil
	for i, b := range [][]byte{large, small, large, small} {
		want := wantLarge
		if len(b) < TunedMin {
			want = wantSmall
		}
		if got := c.compress(make([]byte, 0, compressRoom(len(b))), b); !bytes.Equal(got, want) {
			t.Fatalf("call %d (%d bytes): %d bytes, a fresh context makes %d", i, len(b), len(got), len(want))
		}
	}
}

// The tuned parameters turn off the block pre-splitter through an
// experimental parameter whose number holds for libzstd 1.5.7 only; for
// any other version it is silently not set. A new version of the library
// must come with that number checked again (and this test changed).
func TestLibzstdVersionIsTheOneTuned(t *testing.T) {
	if v := libzstdVersion(); v != 10507 {
		t.Fatalf("libzstd is %d, the tuned parameters were checked against 10507 (1.5.7): check ZSTD_c_blockSplitterLevel's number in zstd.h", v)
	}
}
