package pack_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// buildPack writes blobs into a pack, alternating Seal and AddSealed, and
// returns the pack, its ID and the plaintexts by entry.
func buildPack(tb testing.TB, c *pack.Codec, t id.BlobType, blobs [][]byte) ([]byte, id.ID, []pack.Entry) {
	tb.Helper()
	w := pack.NewWriter(t, 1<<10)
	for i, b := range blobs {
		bid := c.ID(b)
		if i%2 == 0 {
			w.Seal(c, bid, b)
		} else {
			w.AddSealed(bid, c.Seal(nil, t, bid, b), len(b))
		}
	}
	if w.Count() != len(blobs) {
		tb.Fatalf("writer counts %d blobs, want %d", w.Count(), len(blobs))
	}
	entries := append([]pack.Entry(nil), w.Entries()...)
	size := w.Size()
	data, pid := w.Finish(c.Key)
	if len(data) <= size {
		tb.Fatalf("finished pack of %d bytes is not longer than its %d blob bytes", len(data), size)
	}
	return data, pid, entries
}

func checkEntries(tb testing.TB, got, want []pack.Entry) {
	tb.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		tb.Fatalf("entries differ:\n got %+v\nwant %+v", got, want)
	}
}

func TestPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	c := pack.NewCodec(testKey(t, 1))
	cases := map[string][][]byte{
		"empty pack":  nil,
		"one empty":   {{}},
		"one byte":    {{1}},
		"mixed sizes": {{}, {1}, randBytes(rng, 100), compressible(rng, 64<<10), randBytes(rng, 1<<20), make([]byte, 200<<10), compressible(rng, 5)},
	}
	var many [][]byte
	for i := 0; i < 300; i++ {
		many = append(many, randBytes(rng, rng.IntN(2000)))
	}
	cases["300 small"] = many
	for name, blobs := range cases {
		for _, typ := range []id.BlobType{id.DataBlob, id.TreeBlob} {
			t.Run(fmt.Sprintf("%s/%s", name, typ), func(t *testing.T) {
				data, pid, entries := buildPack(t, c, typ, blobs)
				if pid != id.ID(blake3.Sum256(data)) {
					t.Fatal("pack ID is not the BLAKE3-256 of its bytes")
				}
				var off uint32
				for i, e := range entries {
					if e.Type != typ || e.Offset != off || e.RawLength != uint32(len(blobs[i])) || e.ID != c.ID(blobs[i]) {
						t.Fatalf("entry %d: %+v", i, e)
					}
					off += e.Length
				}
				got, err := pack.ReadHeader(c.Key, data, int64(len(data)))
				if err != nil {
					t.Fatalf("read header: %v", err)
				}
				checkEntries(t, got, entries)
				// A reader may fetch only the tail: the sealed header and the trailer.
				hl, err := pack.ParseTrailer(data[len(data)-pack.TrailerSize:], int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				for _, extra := range []int64{0, 1, 100} {
					n := min(hl+pack.TrailerSize+extra, int64(len(data)))
					got, err := pack.ReadHeader(c.Key, data[int64(len(data))-n:], int64(len(data)))
					if err != nil {
						t.Fatalf("read header from %d tail bytes: %v", n, err)
					}
					checkEntries(t, got, entries)
				}
				if hl > 0 {
					if _, err := pack.ReadHeader(c.Key, data[int64(len(data))-hl-pack.TrailerSize+1:], int64(len(data))); !errors.Is(err, pack.ErrCorrupt) {
						t.Fatalf("read header from a tail one byte short: %v", err)
					}
				}
				got, err = pack.Verify(c, data)
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				checkEntries(t, got, entries)
				for i, e := range got {
					p, err := c.Open(nil, e.Type, e.ID, data[e.Offset:e.Offset+e.Length], int(e.RawLength))
					if err != nil || !bytes.Equal(p, blobs[i]) {
						t.Fatalf("blob %d: %v", i, err)
					}
				}
				// Another key opens nothing.
				if _, err := pack.ReadHeader(testKey(t, 2), data, int64(len(data))); !errors.Is(err, crypto.ErrAuth) {
					t.Fatalf("read header with another key: %v", err)
				}
			})
		}
	}
}

// Flipping any single byte of a small pack must be noticed: either the
// header no longer opens, or the blob holding that byte does not.
func TestPackCorruptionDetected(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	c := pack.NewCodec(testKey(t, 1))
	blobs := [][]byte{{}, []byte("ten bytes!"), compressible(rng, 300), randBytes(rng, 70)}
	data, _, entries := buildPack(t, c, id.DataBlob, blobs)
	if len(data) > 4<<10 {
		t.Fatalf("pack of %d bytes is not small", len(data))
	}
	holder := func(pos int) int {
		for i, e := range entries {
			if pos >= int(e.Offset) && pos < int(e.Offset+e.Length) {
				return i
			}
		}
		return -1
	}
	bad := bytes.Clone(data)
	for pos := range data {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			bad[pos] ^= x
			got, err := pack.ReadHeader(c.Key, bad, int64(len(bad)))
			if err != nil {
				if !errors.Is(err, pack.ErrCorrupt) && !errors.Is(err, crypto.ErrAuth) {
					t.Fatalf("byte %d xor %#x: read header: unexpected error %v", pos, x, err)
				}
			} else {
				// The header is authenticated: if it opens it is the original.
				checkEntries(t, got, entries)
				h := holder(pos)
				if h < 0 {
					t.Fatalf("byte %d xor %#x: outside every blob, yet the header still opens", pos, x)
				}
				for i, e := range got {
					_, err := c.Open(nil, e.Type, e.ID, bad[e.Offset:e.Offset+e.Length], int(e.RawLength))
					switch {
					case i == h && err == nil:
						t.Fatalf("byte %d xor %#x: damaged blob %d opens", pos, x, i)
					case i == h && !isBlobError(err):
						t.Fatalf("byte %d xor %#x: blob %d: unexpected error %v", pos, x, i, err)
					case i != h && err != nil:
						t.Fatalf("byte %d xor %#x: intact blob %d: %v", pos, x, i, err)
					}
				}
				if _, err := pack.Verify(c, bad); err == nil {
					t.Fatalf("byte %d xor %#x: verify passes", pos, x)
				}
			}
			bad[pos] ^= x
		}
	}
	// Truncated or extended packs do not open either.
	for n := 0; n < len(data); n++ {
		if _, err := pack.ReadHeader(c.Key, data[:n], int64(n)); err == nil {
			t.Fatalf("pack truncated to %d bytes opens", n)
		}
	}
	for _, tail := range [][]byte{{0}, []byte("CRN1"), data[len(data)-pack.TrailerSize:]} {
		long := append(bytes.Clone(data), tail...)
		if _, err := pack.ReadHeader(c.Key, long, int64(len(long))); err == nil {
			t.Fatalf("pack extended by %q opens", tail)
		}
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	var bid id.ID
	entry := func(typ byte, l, r uint64) []byte {
		b := append([]byte{typ}, bid[:]...)
		b = binary.AppendUvarint(b, l)
		return binary.AppendUvarint(b, r)
	}
	header := func(n uint64, entries ...[]byte) []byte {
		b := binary.AppendUvarint([]byte{1}, n)
		for _, e := range entries {
			b = append(b, e...)
		}
		return b
	}
	const ov = pack.BlobOverhead
	good := header(2, entry(1, ov, 0), entry(1, ov+10, 10))
	if es, err := pack.DecodeHeader(good, 2*ov+10); err != nil || len(es) != 2 || es[1].Offset != ov {
		t.Fatalf("valid header: %v %+v", err, es)
	}
	if _, err := pack.DecodeHeader(header(0), 0); err != nil {
		t.Fatalf("empty header: %v", err)
	}
	cases := map[string]struct {
		b       []byte
		dataLen int64
	}{
		"empty":             {nil, 0},
		"version only":      {[]byte{1}, 0},
		"version 2":         {append([]byte{2}, good[1:]...), 2*ov + 10},
		"count too large":   {header(3, entry(1, ov, 0), entry(1, ov+10, 10)), 2*ov + 10},
		"count huge":        {header(math.MaxUint64), 0},
		"count bad varint":  {append([]byte{1}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 0},
		"trailing byte":     {append(bytes.Clone(good), 0), 2*ov + 10},
		"data not covered":  {good, 2*ov + 11},
		"data overrun":      {good, 2*ov + 9},
		"negative data":     {good, -1},
		"type 0":            {header(1, entry(0, ov, 0)), ov},
		"type 3":            {header(1, entry(3, ov, 0)), ov},
		"blob too short":    {header(1, entry(1, ov-1, 0)), ov - 1},
		"blob too long":     {header(1, entry(1, pack.MaxBlobSize+ov+1, 0)), pack.MaxBlobSize + ov + 1},
		"raw too long":      {header(1, entry(1, ov, pack.MaxBlobSize+1)), ov},
		"truncated entry":   {good[:len(good)-1], 2*ov + 10},
		"truncated ID":      {header(1, entry(1, ov, 0)[:20]), ov},
		"length bad varint": {header(1, append(entry(1, ov, 0)[:33], 0x80)), ov},
	}
	// Offsets are 32-bit: a pack whose blobs cover more than 4 GiB cannot be
	// described, and must not be decoded with wrapped offsets.
	var big [][]byte
	var total int64
	for total <= math.MaxUint32 {
		big = append(big, entry(1, pack.MaxBlobSize+ov, pack.MaxBlobSize))
		total += pack.MaxBlobSize + ov
	}
	cases["over 4 GiB"] = struct {
		b       []byte
		dataLen int64
	}{header(uint64(len(big)), big...), total}
	for name, tc := range cases {
		if es, err := pack.DecodeHeader(tc.b, tc.dataLen); !errors.Is(err, pack.ErrCorrupt) {
			t.Errorf("%s: %v %+v", name, err, es)
		}
	}
}

func TestParseTrailerRejects(t *testing.T) {
	tr := func(hl uint32, magic string) []byte {
		return append(binary.LittleEndian.AppendUint32(nil, hl), magic...)
	}
	if hl, err := pack.ParseTrailer(tr(100, "CRN1"), 108); err != nil || hl != 100 {
		t.Fatalf("valid trailer: %d %v", hl, err)
	}
	for name, tc := range map[string]struct {
		b    []byte
		size int64
	}{
		"short":           {tr(100, "CRN"), 107},
		"long":            {tr(100, "CRN1\x00"), 109},
		"magic":           {tr(100, "CRN2"), 108},
		"header too big":  {tr(101, "CRN1"), 108},
		"header tiny":     {tr(crypto.Overhead+1, "CRN1"), 1000},
		"header max":      {tr(math.MaxUint32, "CRN1"), 1000},
		"pack too small":  {tr(100, "CRN1"), 8},
		"negative size":   {tr(100, "CRN1"), -1},
		"empty":           {nil, 0},
		"zero length hdr": {tr(0, "CRN1"), 8},
	} {
		if _, err := pack.ParseTrailer(tc.b, tc.size); !errors.Is(err, pack.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A pack built in a file reads back through VerifyFile with the entries
// it was written with, and the ID VerifyFile returns is the hash of the
// file's bytes, as a pack's name must be (it is computed while reading the
// pack back, not while writing it). Any changed byte fails the check.
func TestFileWriterVerifyFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	c := pack.NewCodec(testKey(t, 3))
	f, err := os.CreateTemp(t.TempDir(), "pack")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pack.NewFileWriter(id.DataBlob, f)
	var want []pack.Entry
	for i := range 40 {
		b := make([]byte, rng.IntN(3<<20))
		if i%3 == 0 {
			for j := range b {
				b[j] = byte(rng.IntN(4)) // compressible
			}
		} else {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		bid := c.ID(b)
		sealed := c.Seal(nil, id.DataBlob, bid, b)
		want = append(want, pack.Entry{Type: id.DataBlob, ID: bid, Offset: uint32(w.Size()), Length: uint32(len(sealed)), RawLength: uint32(len(b))})
		if err := w.AddSealed(bid, sealed, len(b)); err != nil {
			t.Fatal(err)
		}
	}
	size, err := w.Finish(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != size {
		t.Fatalf("Finish says %d bytes, the file has %d", size, len(data))
	}
	pid, entries, err := pack.VerifyFile(c, f, size)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, entries, want)
	if sum := blake3.Sum256(data); pid != id.ID(sum) {
		t.Fatalf("VerifyFile's ID %s is not the hash of the file, %x", pid.Short(), sum[:4])
	}
	for range 30 {
		at := rng.IntN(len(data))
		bad := bytes.Clone(data)
		bad[at] ^= byte(1 + rng.IntN(255))
		if _, _, err := pack.VerifyFile(c, bytes.NewReader(bad), size); err == nil {
			t.Fatalf("byte %d of %d changed: VerifyFile took it", at, len(data))
		}
	}
}

// A write that fails leaves the file out of step with the entries: every
// later AddSealed and Finish fails too, even one that only gathers a small
// blob, so that no pack is finished from such a file.
func TestFileWriterErrorSticks(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	c := pack.NewCodec(testKey(t, 4))
	f, err := os.CreateTemp(t.TempDir(), "pack")
	if err != nil {
		t.Fatal(err)
	}
	w := pack.NewFileWriter(id.DataBlob, f)
	add := func(n int) error {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		bid := c.ID(b)
		return w.AddSealed(bid, c.Seal(nil, id.DataBlob, bid, b), n)
	}
	if err := add(1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := add(1 << 20); err == nil {
		t.Fatal("a blob written to a closed file: no error")
	}
	if err := add(1000); err == nil {
		t.Fatal("a small blob after a failed write: no error")
	}
	if _, err := w.Finish(c.Key); err == nil {
		t.Fatal("Finish after a failed write: no error")
	}
}
