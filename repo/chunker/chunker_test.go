package chunker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/cairn-backup/cairn/repo/bufpool"
)

func testTable(seed uint64) *Table {
	r := rand.New(rand.NewPCG(seed, seed))
	var t Table
	for i := range t {
		t[i] = r.Uint64()
	}
	return &t
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// small parameters keep the tests quick while exercising every rule.
var small = Params{Min: 4 << 10, Max: 64 << 10, Bits: 13}

// chunkAll reads every chunk of r, said to yield size bytes.
func chunkAll(t *testing.T, r io.Reader, size int64, tab *Table, p Params) [][]byte {
	t.Helper()
	ch := New(r, size, tab, p)
	var out [][]byte
	for {
		c, err := ch.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), c...))
		bufpool.Put(c)
	}
}

func lengths(cs [][]byte) []int {
	var out []int
	for _, c := range cs {
		out = append(out, len(c))
	}
	return out
}

// The chunks put back together are the input; every chunk but the last
// is within [Min, Max]; and how the reader splits its reads, or what size
// it was said to have, changes nothing, so two hosts (or a file and a
// pipe) cut the same data alike.
func TestChunksAreTheInputWhateverTheReads(t *testing.T) {
	tab := testTable(1)
	for _, n := range []int{0, 1, small.Min - 1, small.Min, small.Min + 1, small.Max, small.Max + 1, 3 * small.Max, 1 << 20} {
		data := randomBytes(uint64(n), n)
		want := Cuts(data, tab, small)
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return bytes.NewReader(data) },
			"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
			"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
			"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
			"section":  func() io.Reader { return io.NewSectionReader(bytes.NewReader(data), 0, int64(n)) },
		}
		for kind, mk := range readers {
			for _, size := range []int64{-1, int64(n), int64(n / 2), int64(2*n + 1)} {
				name := fmt.Sprintf("%s reads, said to be %d bytes", kind, size)
				cs := chunkAll(t, mk(), size, tab, small)
				if !bytes.Equal(bytes.Join(cs, nil), data) {
					t.Fatalf("%d bytes, %s reads: chunks do not put back together", n, name)
				}
				if got := lengths(cs); !equalInts(got, want) {
					t.Fatalf("%d bytes, %s reads: cuts %v, whole %v", n, name, got, want)
				}
				for i, c := range cs {
					if len(c) > small.Max || len(c) < small.Min && i != len(cs)-1 {
						t.Fatalf("%d bytes, %s reads: chunk %d is %d bytes, outside [%d, %d]", n, name, i, len(c), small.Min, small.Max)
					}
				}
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A cut depends on the 64 bytes before it: bytes inserted near the start
// move the first cuts only, and the chunks after them are the same ones
// (which is what deduplicates an edited file).
func TestInsertionMovesOnlyNearbyCuts(t *testing.T) {
	tab := testTable(2)
	data := randomBytes(7, 2<<20)
	edited := append(append(append([]byte(nil), data[:1000]...), "inserted bytes"...), data[1000:]...)
	a := chunkSet(Cuts(data, tab, small), data)
	b := Cuts(edited, tab, small)
	shared, off := 0, 0
	for _, n := range b {
		if a[string(edited[off:off+n])] {
			shared++
		}
		off += n
	}
	if shared < len(b)-3 {
		t.Fatalf("only %d of %d chunks survive an insertion of 14 bytes", shared, len(b))
	}
}

func chunkSet(cuts []int, data []byte) map[string]bool {
	m := map[string]bool{}
	off := 0
	for _, n := range cuts {
		m[string(data[off:off+n])] = true
		off += n
	}
	return m
}

// On random data a chunk is Min + 2^Bits long on average, and the table
// is what decides the cuts: another repository's table cuts elsewhere.
func TestAverageSizeAndKeyedCuts(t *testing.T) {
	p := Params{Min: 16 << 10, Max: 1 << 20, Bits: 14}
	data := randomBytes(3, 16<<20)
	cuts := Cuts(data, testTable(4), p)
	mean := float64(len(data)) / float64(len(cuts))
	want := float64(p.Min + 1<<p.Bits)
	if mean < 0.85*want || mean > 1.15*want {
		t.Fatalf("mean chunk %.0f bytes over %d chunks, want about %.0f", mean, len(cuts), want)
	}
	other := Cuts(data, testTable(5), p)
	if equalInts(cuts[:10], other[:10]) {
		t.Fatal("two tables cut random data at the same places")
	}
}

// Data without a cut (zeros hash to a constant) is cut at Max.
func TestZerosAreCutAtMax(t *testing.T) {
	tab := testTable(6)
	// Make sure zeros never satisfy the mask.
	tab[0] |= 1 << 63
	data := make([]byte, 3*small.Max+100)
	if got, want := Cuts(data, tab, small), []int{small.Max, small.Max, small.Max, 100}; !equalInts(got, want) {
		t.Fatalf("cuts %v, want %v", got, want)
	}
}

// A read error is returned, not taken for the end of the data.
func TestReadErrorIsReturned(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(randomBytes(8, 3*small.Max)), iotest.ErrReader(boom))
	ch := New(r, -1, testTable(7), small)
	for {
		c, err := ch.Next()
		if errors.Is(err, boom) {
			return
		}
		if err != nil {
			t.Fatalf("got %v, want boom", err)
		}
		bufpool.Put(c)
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randomBytes(9, 64<<20)
	tab := testTable(8)
	p := Params{Min: 512 << 10, Max: 8 << 20, Bits: 20}
	b.SetBytes(int64(len(data)))
	ch := New(nil, -1, tab, p)
	for b.Loop() {
		ch.Reset(bytes.NewReader(data), int64(len(data)))
		for {
			c, err := ch.Next()
			if err != nil {
				break
			}
			bufpool.Put(c)
		}
	}
}

// With T[0] = 0, as in every repository's table, a run of zeros hashes to
// zero and is cut every Min bytes: zero runs deduplicate wherever they are.
func TestZerosAreCutAtMinWithZeroWord(t *testing.T) {
	tab := testTable(11)
	tab[0] = 0
	data := append(randomBytes(12, 100<<10), make([]byte, 5*small.Min)...)
	cuts := Cuts(data, tab, small)
	zeroChunks := 0
	off := 0
	for _, n := range cuts {
		if n == small.Min && bytes.Count(data[off:off+n], []byte{0}) == n {
			zeroChunks++
		}
		off += n
	}
	if zeroChunks < 3 {
		t.Fatalf("cuts %v: want the zero run cut into Min-sized chunks", cuts)
	}
}

// BenchmarkScan measures the gear hash alone: every byte is hashed.
func BenchmarkScan(b *testing.B) {
	data := randomBytes(9, 16<<20)
	tab := testTable(8)
	p := Params{Min: Window, Max: 8 << 20, Bits: 30}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Cuts(data, tab, p)
	}
}
