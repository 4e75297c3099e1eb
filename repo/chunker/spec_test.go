package chunker

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/repo/crypto"
)

// defCuts computes cut points by the definition of docs/FORMAT.md §3,
// by brute force.
func defCuts(data []byte, tab *Table, p Params) []int {
	var out []int
	for s := 0; s < len(data); {
		rest := data[s:]
		n := len(rest)
		for L := p.Min; L <= min(p.Max, len(rest)); L++ {
			var h uint64
			for j := 0; j < Window && L-1-j >= 0; j++ {
				h += tab[rest[L-1-j]] << j
			}
			if h>>(64-p.Bits) == 0 || L == p.Max {
				n = L
				break
			}
		}
		out = append(out, n)
		s += n
	}
	return out
}

// randReader returns random-sized reads, sometimes (0, nil), sometimes
// data together with io.EOF.
type randReader struct {
	data []byte
	rng  *rand.Rand
}

func (r *randReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if r.rng.IntN(5) == 0 {
		return 0, nil
	}
	n := min(len(p), len(r.data), 1+r.rng.IntN(3000))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	if len(r.data) == 0 && r.rng.IntN(2) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// The streaming Chunker and Cuts against the definition, over
// edge parameters (Max == Min, Min == Window, Bits extremes), odd reads,
// (0, nil) reads, and right, short, long and unknown size hints.
func TestChunkerFollowsTheDefinition(t *testing.T) {
	tab := testTable(21)
	tab[0] = 0
	params := []Params{
		{Min: 64, Max: 64, Bits: 1},
		{Min: 64, Max: 65, Bits: 1},
		{Min: 64, Max: 300, Bits: 3},
		{Min: 100, Max: 5000, Bits: 63},
		{Min: 1000, Max: 4000, Bits: 9},
		{Min: 4096, Max: 4096 + 700, Bits: 6},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for pi, p := range params {
		for trial := 0; trial < 30; trial++ {
			n := rng.IntN(20000)
			data := randomBytes(uint64(trial*7+pi), n)
			// some zero runs and low-entropy stretches
			for k := 0; k < 3 && n > 0; k++ {
				a := rng.IntN(n)
				b := min(n, a+rng.IntN(500))
				v := byte(0)
				if k == 2 {
					v = byte(rng.IntN(256))
				}
				for i := a; i < b; i++ {
					data[i] = v
				}
			}
			want := defCuts(data, tab, p)
			if got := Cuts(data, tab, p); fmt.Sprint(got) != fmt.Sprint(want) && !(len(want) == 0 && len(got) == 0) {
				t.Fatalf("params %+v n %d: Cuts %v, definition %v", p, n, got, want)
			}
			for _, size := range []int64{-1, int64(n), int64(n / 3), int64(n*2 + 5), 0} {
				cs := chunkAll(t, &randReader{data: data, rng: rand.New(rand.NewPCG(uint64(trial), uint64(size+9)))}, size, tab, p)
				got, all := lengths(cs), bytes.Join(cs, nil)
				if !bytes.Equal(all, data) || fmt.Sprint(got) != fmt.Sprint(want) && !(len(want) == 0 && len(got) == 0) {
					t.Fatalf("params %+v n %d size %d: stream cuts %v, definition %v (equal data %v)", p, n, size, got, want, bytes.Equal(all, data))
				}
			}
		}
	}
}

// The test vectors of docs/FORMAT.md §17: the gear table of the master
// secret 00 01 … 1f and the cuts of D (the first 6 MiB of BLAKE3's output
// for the empty input, bytes 2 MiB to 3 MiB zeroed) with the default
// chunk sizes.
func TestFormatVectors(t *testing.T) {
	m := make([]byte, 32)
	for i := range m {
		m[i] = byte(i)
	}
	k, err := crypto.KeyFromMaster(m)
	if err != nil {
		t.Fatal(err)
	}
	tab := Table(k.GearTable())
	if tab[0] != 0 || tab[1] != 0x88fb43c85f818555 || tab[2] != 0x44a7afb2cc81934a || tab[255] != 0x241b63779a5c5fc9 {
		t.Fatalf("T[0], T[1], T[2], T[255] = %#x %#x %#x %#x", tab[0], tab[1], tab[2], tab[255])
	}
	d := make([]byte, 6<<20)
	if _, err := io.ReadFull(blake3.New().Digest(), d); err != nil {
		t.Fatal(err)
	}
	clear(d[2<<20 : 3<<20])
	got := Cuts(d, &tab, Params{Min: 512 << 10, Max: 8 << 20, Bits: 20})
	if want := []int{1648769, 524288, 524288, 1189308, 828553, 1576250}; !equalInts(got, want) {
		t.Fatalf("cuts of D %v, FORMAT.md says %v", got, want)
	}
}
