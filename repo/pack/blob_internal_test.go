package pack

import (
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
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
