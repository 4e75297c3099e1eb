package index

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
	"github.com/zeebo/blake3"
)

// One segment naming a blob in two packs (and twice in one) keeps the
// first pack as its location and the second as its only alternative,
// whatever order the blobs are written in.
func TestAddSegmentDuplicatesInOneSegment(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "index.db"), "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, b := blobID(3), blobID(200)
	packs := []Pack{
		{ID: blobID(9), Type: id.DataBlob, Blobs: []Blob{{ID: b, Type: id.DataBlob, Length: 1}, {ID: a, Type: id.DataBlob, Length: 2}, {ID: a, Type: id.DataBlob, Length: 2}}},
		{ID: blobID(10), Type: id.DataBlob, Blobs: []Blob{{ID: a, Type: id.DataBlob, Length: 3}, {ID: b, Type: id.DataBlob, Length: 4}}},
	}
	if err := d.AddSegment(blobID(7), packs); err != nil {
		t.Fatal(err)
	}
	for _, bid := range []id.ID{a, b} {
		got, ok, err := d.Lookup(bid)
		if err != nil || !ok || got.Pack != blobID(9) {
			t.Fatalf("blob %s: %+v %v %v, want it in pack 9", bid.Short(), got, ok, err)
		}
		alts, err := d.Alternatives(bid)
		if err != nil || len(alts) != 1 || alts[0].Pack != blobID(10) {
			t.Fatalf("blob %s alternatives %+v %v, want pack 10 only", bid.Short(), alts, err)
		}
	}
}

// A segment with many blobs (one ingest of a few hundred thousand small
// files writes one) is added in one transaction. Blob IDs are hashes, so
// in pack order they come at random; written in that order, bbolt moved
// every later key of the growing node on each insert and the time grew
// with the square of the blobs (200k: 179 s on 2 cores; now 1.8 s).
// Compare: go test ./index -run '^$' -bench AddSegmentManyBlobs
func BenchmarkAddSegmentManyBlobs(b *testing.B) {
	const n = 200_000
	var packs []Pack
	for p := 0; p < n/1000; p++ {
		pk := Pack{ID: hashID(uint64(1<<40 + p)), Type: id.DataBlob}
		for i := 0; i < 1000; i++ {
			pk.Blobs = append(pk.Blobs, Blob{ID: hashID(uint64(p*1000 + i)), Type: id.DataBlob, Offset: uint32(i * 10), Length: 10, RawLength: 10})
		}
		packs = append(packs, pk)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d, err := Open(filepath.Join(b.TempDir(), "index.db"), "repo-a", time.Second)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := d.AddSegment(blobID(7), packs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d.Close()
		b.StartTimer()
	}
}

func hashID(n uint64) id.ID {
	sum := blake3.Sum256(binary.LittleEndian.AppendUint64(nil, n))
	return id.ID(sum)
}

// Segments recorded together (a cold open loads them in batches) keep
// the first segment's copy of a blob as its location and the later ones
// as alternatives, as when recorded one by one; a segment not loaded adds
// no blobs.
func TestAddSegmentInfosFirstSegmentWins(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "index.db"), "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, b, c := blobID(3), blobID(200), blobID(77)
	segs := []SegmentAdd{
		{ID: blobID(1), Info: SegmentInfo{Loaded: true}, Packs: []Pack{{ID: blobID(20), Type: id.DataBlob, Blobs: []Blob{{ID: b, Type: id.DataBlob, Length: 1}, {ID: a, Type: id.DataBlob, Length: 2}}}}},
		{ID: blobID(2), Info: SegmentInfo{Loaded: true}, Packs: []Pack{{ID: blobID(10), Type: id.DataBlob, Blobs: []Blob{{ID: a, Type: id.DataBlob, Length: 3}, {ID: b, Type: id.DataBlob, Length: 4}}}}},
		{ID: blobID(4), Info: SegmentInfo{Loaded: false}, Packs: []Pack{{ID: blobID(30), Type: id.DataBlob, Blobs: []Blob{{ID: c, Type: id.DataBlob, Length: 5}}}}},
	}
	if err := d.AddSegmentInfos(segs); err != nil {
		t.Fatal(err)
	}
	for _, bid := range []id.ID{a, b} {
		got, ok, err := d.Lookup(bid)
		if err != nil || !ok || got.Pack != blobID(20) {
			t.Fatalf("blob %s: %+v %v %v, want it in pack 20 (the first segment's)", bid.Short(), got, ok, err)
		}
		alts, err := d.Alternatives(bid)
		if err != nil || len(alts) != 1 || alts[0].Pack != blobID(10) {
			t.Fatalf("blob %s alternatives %+v %v, want pack 10 only", bid.Short(), alts, err)
		}
	}
	if _, ok, _ := d.Lookup(c); ok {
		t.Errorf("a blob of a segment not loaded was recorded")
	}
}

// A cold open records a batch of segments in one transaction: 100
// segments of 1000 blobs each here (the batch's blob bound). Their blobs
// go in as one sorted run; segment by segment, each one's sorted run
// landed at random among the earlier ones' in nodes that grow until the
// commit. Compare: go test ./index -run '^$' -bench AddSegmentInfos
func BenchmarkAddSegmentInfos(b *testing.B) {
	var segs []SegmentAdd
	for s := 0; s < 100; s++ {
		pk := Pack{ID: hashID(uint64(1<<40 + s)), Type: id.DataBlob}
		for i := 0; i < 1000; i++ {
			pk.Blobs = append(pk.Blobs, Blob{ID: hashID(uint64(s*1000 + i)), Type: id.DataBlob, Offset: uint32(i * 10), Length: 10, RawLength: 10})
		}
		segs = append(segs, SegmentAdd{ID: hashID(uint64(1<<50 + s)), Info: SegmentInfo{Loaded: true}, Packs: []Pack{pk}})
	}
	for i := 0; i < b.N; i++ {
		d, err := Open(filepath.Join(b.TempDir(), "index.db"), "repo-a", time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.AddSegmentInfos(segs); err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}
