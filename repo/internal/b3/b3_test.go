package b3

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"

	"github.com/zeebo/blake3"
)

// input is n bytes of a pattern that differs at every offset.
func input(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func zeeboSum(key *[32]byte, b []byte) []byte {
	var z *blake3.Hasher
	if key == nil {
		z = blake3.New()
	} else {
		z, _ = blake3.NewKeyed(key[:])
	}
	z.Write(b)
	return z.Sum(nil)
}

// lengths covers one chunk and its edges, the sixteen-chunk batches, the
// 256-chunk groups and their merges, and some lengths between.
func lengths() []int {
	ns := []int{0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 8191, 8192, 8193}
	for _, c := range []int{15, 16, 17, 31, 32, 33, 255, 256, 257, 511, 512, 513, 767, 768, 1024, 1025, 1279, 2048, 2304, 3000} {
		ns = append(ns, c*1024-1, c*1024, c*1024+1)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 40 {
		ns = append(ns, rng.IntN(3<<20))
	}
	return ns
}

// withOwn runs f with the tree code of this package on every length,
// through the kernel where the CPU has it and its Go model where not.
func withOwn(t *testing.T, f func()) {
	o, s := own, small
	own, small = true, 0
	defer func() { own, small = o, s }()
	f()
}

func TestSumsAgreeWithReference(t *testing.T) {
	withOwn(t, func() {
		key := [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
		keyed := NewKeyed(&key)
		for _, n := range lengths() {
			b := input(n)
			if got, want := Sum256(b), zeeboSum(nil, b); !bytes.Equal(got[:], want) {
				t.Fatalf("Sum256 of %d bytes: %x, want %x", n, got, want)
			}
			keyed.Reset()
			keyed.Write(b)
			if got, want := keyed.Sum(nil), zeeboSum(&key, b); !bytes.Equal(got, want) {
				t.Fatalf("keyed sum of %d bytes: %x, want %x", n, got, want)
			}
		}
	})
}

// Writes of any sizes give the sum of their concatenation, and Sum
// leaves the Hasher as it was.
func TestStreamingAgreesWithReference(t *testing.T) {
	withOwn(t, func() {
		rng := rand.New(rand.NewPCG(2, 2))
		h := New()
		for trial := range 60 {
			n := rng.IntN(2 << 20)
			if trial%3 == 0 {
				n = (1 + rng.IntN(600)) * 1024
			}
			b := input(n)
			h.Reset()
			for rest := b; len(rest) > 0; {
				k := min(len(rest), rng.IntN(40<<10)+1)
				if trial%4 == 1 {
					k = min(len(rest), 1+rng.IntN(100))
				}
				h.Write(rest[:k])
				rest = rest[k:]
				if rng.IntN(50) == 0 {
					done := len(b) - len(rest)
					if got, want := h.Sum(nil), zeeboSum(nil, b[:done]); !bytes.Equal(got, want) {
						t.Fatalf("trial %d: sum after %d of %d bytes: %x, want %x", trial, done, n, got, want)
					}
				}
			}
			if got, want := h.Sum(nil), zeeboSum(nil, b); !bytes.Equal(got, want) {
				t.Fatalf("trial %d: streamed sum of %d bytes: %x, want %x", trial, n, got, want)
			}
		}
	})
}

// The defaults (the kernel when the CPU has it, zeebo for short inputs)
// agree with the reference too.
func TestDefaultPathAgrees(t *testing.T) {
	t.Logf("AVX-512 kernel: %v", haveKernel)
	for _, n := range []int{0, 100, 8191, 8192, 1 << 20, 3<<20 + 5} {
		b := input(n)
		if got, want := Sum256(b), zeeboSum(nil, b); !bytes.Equal(got[:], want) {
			t.Fatalf("Sum256 of %d bytes: %x, want %x", n, got, want)
		}
	}
}

func BenchmarkKeyed1MiB(b *testing.B) {
	key := [32]byte{7}
	buf := input(1 << 20)
	h := NewKeyed(&key)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Reset()
		h.Write(buf)
		h.Sum(nil)
	}
}

func BenchmarkZeeboKeyed1MiB(b *testing.B) {
	key := [32]byte{7}
	buf := input(1 << 20)
	h, _ := blake3.NewKeyed(key[:])
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Reset()
		h.Write(buf)
		h.Sum(nil)
	}
}

// hash16_amd64.s is what gen_amd64.go writes.
func TestKernelIsGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	want, err := os.ReadFile("hash16_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command("go", "run", "gen_amd64.go").Output()
	if err != nil {
		t.Fatalf("go run gen_amd64.go: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("hash16_amd64.s is stale: go run gen_amd64.go > hash16_amd64.s")
	}
}

// The assembly kernel and its Go model agree on random jobs: any key,
// flags, block count, lane offsets and 64-bit counters.
func TestKernelAgreesWithModel(t *testing.T) {
	if !haveKernel {
		t.Skip("no AVX-512 here: the model stands in for the kernel")
	}
	rng := rand.New(rand.NewPCG(3, 3))
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for trial := range 300 {
		var a job
		for i := range a.key {
			a.key[i] = rng.Uint32()
		}
		a.flags, a.start, a.end = rng.Uint32()&31, rng.Uint32()&31, rng.Uint32()&31
		a.blocks = uint64(1 + rng.IntN(16))
		a.mask = 1<<lanes - 1
		for i := range a.idx {
			a.idx[i] = uint32(rng.IntN(len(buf) - int(a.blocks)*blockLen))
			a.ctrLo[i], a.ctrHi[i] = rng.Uint32(), rng.Uint32()
		}
		a.in = &buf[0]
		b := a
		hash16(&a)
		hash16Generic(&b)
		if a.out != b.out {
			t.Fatalf("trial %d: kernel %x, model %x", trial, a.out, b.out)
		}
	}
}

// Writes cut at every batch boundary and a byte either side of it, empty
// writes, and Sum twice at each cut, plain and keyed, with short inputs
// handed to zeebo and without.
func TestStreamingAtBoundaries(t *testing.T) {
	for _, sm := range []int{0, small} {
		o, s := own, small
		own, small = true, sm
		key := [32]byte{9, 8, 7}
		for _, h := range []*Hasher{New(), NewKeyed(&key)} {
			var k *[32]byte
			if h.flags&flagKeyed != 0 {
				k = &key
			}
			b := input(3*group*chunkLen + 5*lanes*chunkLen + 77)
			var cuts []int
			for c := lanes * chunkLen; c < len(b); c += lanes * chunkLen {
				cuts = append(cuts, c-1, c, c+1)
			}
			cuts = append(cuts, len(b))
			at := 0
			for _, c := range cuts {
				h.Write(b[at:c])
				h.Write(nil)
				at = c
				first, second := h.Sum(nil), h.Sum(nil)
				if want := zeeboSum(k, b[:c]); !bytes.Equal(first, want) || !bytes.Equal(second, want) {
					t.Fatalf("small %d keyed %v: sums after %d bytes %x, %x; want %x", sm, k != nil, c, first, second, want)
				}
			}
			h.Reset()
			h.Write(b[:100])
			if got, want := h.Sum(nil), zeeboSum(k, b[:100]); !bytes.Equal(got, want) {
				t.Fatalf("after Reset: %x, want %x", got, want)
			}
		}
		own, small = o, s
	}
}

// Sixty-four groups and one byte: stack merges four levels deep.
func TestManyGroups(t *testing.T) {
	withOwn(t, func() {
		b := input(64*group*chunkLen + 1)
		if got, want := Sum256(b), zeeboSum(nil, b); !bytes.Equal(got[:], want) {
			t.Fatalf("Sum256 of %d bytes: %x, want %x", len(b), got, want)
		}
	})
}

// FuzzAgainstReference: any input, written in any two pieces, keyed or
// not, hashes as zeebo's BLAKE3 does.
func FuzzAgainstReference(f *testing.F) {
	f.Add([]byte("abc"), uint16(1), false)
	f.Add(input(17*chunkLen+3), uint16(lanes*chunkLen), true)
	f.Add(input(lanes*chunkLen+1), uint16(lanes*chunkLen), false)
	f.Fuzz(func(t *testing.T, b []byte, cut uint16, keyed bool) {
		o, s := own, small
		own, small = true, 0
		defer func() { own, small = o, s }()
		// Stretch short inputs so that the tree code sees groups.
		if len(b) > 0 && len(b) < 4096 && cut%3 == 0 {
			b = bytes.Repeat(b, 1+int(cut)%600)
		}
		at := min(int(cut), len(b))
		var key *[32]byte
		h := New()
		if keyed {
			key = &[32]byte{byte(cut), byte(len(b))}
			h = NewKeyed(key)
		}
		h.Write(b[:at])
		h.Write(b[at:])
		if got, want := h.Sum(nil), zeeboSum(key, b); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes cut at %d, keyed %v: %x, want %x", len(b), at, keyed, got, want)
		}
	})
}
