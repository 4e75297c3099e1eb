package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// Verify must accept exactly what Open accepts, read in pieces.
func TestVerifyAgreesWithOpen(t *testing.T) {
	k, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	ad := []byte("cairn pack header v1")
	for _, n := range []int{0, 1, 15, 16, 17, 1000, verifyPiece - 1, verifyPiece + 5, 3*verifyPiece + 7} {
		pt := make([]byte, n)
		rand.Read(pt)
		sealed := k.Seal(nil, pt, ad)
		if err := k.Verify(bytes.NewReader(sealed), int64(len(sealed)), ad); err != nil {
			t.Fatalf("%d bytes: Verify of an intact object: %v", n, err)
		}
		if err := k.Verify(bytes.NewReader(sealed), int64(len(sealed)), []byte("other")); !errors.Is(err, ErrAuth) {
			t.Fatalf("%d bytes: Verify with other additional data: %v, want ErrAuth", n, err)
		}
		for _, at := range []int{0, NonceSize, len(sealed) / 2, len(sealed) - 1} {
			bad := bytes.Clone(sealed)
			bad[at] ^= 1
			if err := k.Verify(bytes.NewReader(bad), int64(len(bad)), ad); !errors.Is(err, ErrAuth) {
				t.Fatalf("%d bytes, byte %d flipped: Verify: %v, want ErrAuth", n, at, err)
			}
		}
	}
}
