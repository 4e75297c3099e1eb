package fuzz

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

type seedPack struct {
	name string
	data []byte
}

// seedPacks are real packs under the test key.
func seedPacks() []seedPack {
	c := codec()
	build := func(t id.BlobType, blobs ...[]byte) []byte {
		w := pack.NewWriter(t, 0)
		for _, b := range blobs {
			w.Seal(c, c.ID(b), b)
		}
		data, _ := w.Finish(c.Key)
		return data
	}
	return []seedPack{
		{"empty", build(id.DataBlob)},
		{"one-empty-blob", build(id.DataBlob, nil)},
		{"mixed", build(id.DataBlob, []byte("a"), bytes.Repeat([]byte("compressible "), 40), []byte{0xff, 0, 0xfe})},
		{"tree", build(id.TreeBlob, treeSeeds()[1].args[0].([]byte))},
	}
}

func headerLen(p []byte) int {
	return int(binary.LittleEndian.Uint32(p[len(p)-pack.TrailerSize:]))
}

// checkEntries asserts what a decoded header promises: known types,
// plausible lengths, and blobs lying back to back over exactly dataLen
// bytes without wrapping 32-bit offsets.
func checkEntries(t *testing.T, entries []pack.Entry, dataLen int64) {
	t.Helper()
	var off uint64
	for i, e := range entries {
		end := uint64(e.Offset) + uint64(e.Length)
		switch {
		case !e.Type.Valid():
			t.Fatalf("entry %d: type %d", i, e.Type)
		case uint64(e.Offset) != off:
			t.Fatalf("entry %d at offset %d, want %d", i, e.Offset, off)
		case e.Length < pack.BlobOverhead || e.Length > pack.MaxBlobSize+pack.BlobOverhead || e.RawLength > pack.MaxBlobSize:
			t.Fatalf("entry %d: length %d raw %d", i, e.Length, e.RawLength)
		case end > 1<<32-1 || e.Offset+e.Length < e.Offset:
			t.Fatalf("entry %d: offset %d + length %d wraps", i, e.Offset, e.Length)
		}
		off = end
	}
	if off != uint64(dataLen) {
		t.Fatalf("entries cover %d of %d data bytes", off, dataLen)
	}
	again, err := pack.DecodeHeader(pack.EncodeHeader(entries), dataLen)
	if err != nil {
		t.Fatalf("re-encoded header: %v", err)
	}
	if len(entries) > 0 && !reflect.DeepEqual(again, entries) {
		t.Fatalf("re-encoded header decodes to\n%+v\nnot\n%+v", again, entries)
	}
}

func FuzzPackReadHeader(f *testing.F) {
	c := codec()
	seeds := []seed{
		{"nothing", []any{[]byte{}, int64(0)}},
		{"trailer-only", []any{[]byte("\x00\x00\x00\x00CRN1"), int64(8)}},
		{"huge-size", []any{[]byte("\xff\xff\xff\xffCRN1"), int64(1 << 40)}},
	}
	for _, p := range seedPacks() {
		seeds = append(seeds,
			seed{p.name + "-whole", []any{p.data, int64(len(p.data))}},
			seed{p.name + "-tail", []any{p.data[len(p.data)-headerLen(p.data)-pack.TrailerSize:], int64(len(p.data))}})
	}
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, tail []byte, packSize int64) {
		var entries []pack.Entry
		var err error
		bounded(t, allocLimit(len(tail)), func() { entries, err = pack.ReadHeader(c.Key, tail, packSize) })
		if err != nil {
			wantErr(t, err, pack.ErrCorrupt, crypto.ErrAuth)
			return
		}
		hl, err := pack.ParseTrailer(tail[len(tail)-pack.TrailerSize:], packSize)
		if err != nil {
			t.Fatalf("header read, but trailer refused: %v", err)
		}
		checkEntries(t, entries, packSize-pack.TrailerSize-hl)
	})
}

func FuzzPackDecodeHeader(f *testing.F) {
	var seeds []seed
	for _, p := range seedPacks() {
		entries, err := pack.Verify(codec(), p.data)
		if err != nil {
			f.Fatal(err)
		}
		dataLen := int64(len(p.data) - headerLen(p.data) - pack.TrailerSize)
		seeds = append(seeds, seed{p.name, []any{pack.EncodeHeader(entries), dataLen}})
	}
	seeds = append(seeds, seed{"count-only", []any{[]byte{1, 0x80, 0x80, 0x01}, int64(0)}})
	// Blobs covering more than 4 GiB: once decoded with wrapped 32-bit offsets.
	var big []pack.Entry
	var total int64
	for total <= 1<<32 {
		big = append(big, pack.Entry{Type: id.DataBlob, Length: pack.MaxBlobSize + pack.BlobOverhead})
		total += pack.MaxBlobSize + pack.BlobOverhead
	}
	seeds = append(seeds, seed{"over-4gib", []any{pack.EncodeHeader(big), total}})
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, hdr []byte, dataLen int64) {
		var entries []pack.Entry
		var err error
		bounded(t, allocLimit(len(hdr)), func() { entries, err = pack.DecodeHeader(hdr, dataLen) })
		if err != nil {
			wantErr(t, err, pack.ErrCorrupt)
			return
		}
		checkEntries(t, entries, dataLen)
	})
}

func FuzzPackVerify(f *testing.F) {
	c := codec()
	var seeds []seed
	for _, p := range seedPacks() {
		seeds = append(seeds, seed{p.name, []any{p.data}})
	}
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, data []byte) {
		var entries []pack.Entry
		var err error
		bounded(t, allocLimit(len(data)), func() { entries, err = pack.Verify(c, data) })
		if err != nil {
			wantErr(t, err, pack.ErrCorrupt, pack.ErrMismatch, crypto.ErrAuth)
			return
		}
		checkEntries(t, entries, int64(len(data)-headerLen(data)-pack.TrailerSize))
		for i, e := range entries {
			p, err := c.Open(nil, e.Type, e.ID, data[e.Offset:e.Offset+e.Length], int(e.RawLength))
			if err != nil || c.ID(p) != e.ID {
				t.Fatalf("verified pack: blob %d: %v", i, err)
			}
		}
	})
}
