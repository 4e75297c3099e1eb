package repo_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

func randID(rng *rand.Rand) (i id.ID) {
	for j := range i {
		i[j] = byte(rng.Uint32())
	}
	return i
}

func randSegment(rng *rand.Rand) *repo.Segment {
	s := &repo.Segment{}
	for range rng.IntN(6) {
		p := index.Pack{ID: randID(rng), Type: id.BlobType(1 + rng.IntN(2)), Blobs: []index.Blob{}}
		for range rng.IntN(30) {
			// Spread the numbers over every varint width, up to 2^32-1.
			n := func() uint32 { return uint32(rng.Uint64() >> rng.IntN(64)) }
			p.Blobs = append(p.Blobs, index.Blob{ID: randID(rng), Type: p.Type, Pack: p.ID, Offset: n(), Length: n(), RawLength: n()})
		}
		s.Packs = append(s.Packs, p)
	}
	for range rng.IntN(4) {
		s.Supersedes = append(s.Supersedes, randID(rng))
	}
	return s
}

// normalSegment makes empty slices nil so segments compare by content.
func normalSegment(s *repo.Segment) *repo.Segment {
	out := &repo.Segment{}
	for _, p := range s.Packs {
		if len(p.Blobs) == 0 {
			p.Blobs = nil
		}
		out.Packs = append(out.Packs, p)
	}
	if len(s.Supersedes) > 0 {
		out.Supersedes = s.Supersedes
	}
	return out
}

func TestSegmentRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 300; i++ {
		s := randSegment(rng)
		b := repo.EncodeSegment(s)
		got, err := repo.DecodeSegment(b)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if !reflect.DeepEqual(normalSegment(got), normalSegment(s)) {
			t.Fatalf("segment %d differs:\n got %+v\nwant %+v", i, got, s)
		}
		if !bytes.Equal(repo.EncodeSegment(got), b) {
			t.Fatalf("segment %d: re-encoding differs", i)
		}
		// Every strict prefix and any extension is refused.
		for n := 0; n < len(b); n++ {
			if _, err := repo.DecodeSegment(b[:n]); !errors.Is(err, repo.ErrDamaged) {
				t.Fatalf("segment %d truncated to %d of %d bytes: %v", i, n, len(b), err)
			}
		}
		for _, tail := range [][]byte{{0}, make([]byte, 32)} {
			if _, err := repo.DecodeSegment(append(bytes.Clone(b), tail...)); !errors.Is(err, repo.ErrDamaged) {
				t.Fatalf("segment %d with %d trailing bytes: %v", i, len(tail), err)
			}
		}
	}
}

func TestDecodeSegmentRejects(t *testing.T) {
	var pid id.ID
	seg := func(parts ...[]byte) []byte {
		b := []byte("CRNI\x01")
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	pack := func(typ byte, n uint64) []byte { return append(append(pid[:], typ), uv(n)...) }
	blob := func(off, l, r uint64) []byte {
		b := append(make([]byte, 32), uv(off)...)
		return append(append(b, uv(l)...), uv(r)...)
	}
	if s, err := repo.DecodeSegment(seg(uv(1), pack(1, 1), blob(0, 41, 0), uv(0))); err != nil || len(s.Packs) != 1 {
		t.Fatalf("valid segment: %v", err)
	}
	damaged := map[string][]byte{
		"empty":              nil,
		"magic":              []byte("CRNX\x01\x00\x00"),
		"short":              []byte("CRNI"),
		"no pack count":      seg(),
		"no supersede count": seg(uv(0)),
		"pack count huge":    seg(uv(1<<40), uv(0)),
		"blob type 0":        seg(uv(1), pack(0, 0), uv(0)),
		"blob type 3":        seg(uv(1), pack(3, 0), uv(0)),
		"blob count huge":    seg(uv(1), pack(1, 1<<40), uv(0)),
		"offset over 32 bit": seg(uv(1), pack(1, 1), blob(1<<32, 41, 0), uv(0)),
		"length over 32 bit": seg(uv(1), pack(1, 1), blob(0, 1<<32, 0), uv(0)),
		"raw over 32 bit":    seg(uv(1), pack(1, 1), blob(0, 41, 1<<32), uv(0)),
		"supersedes short":   seg(uv(0), uv(1), make([]byte, 31)),
		"supersedes huge":    seg(uv(0), uv(1<<40)),
		"bad varint":         seg([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
	}
	for name, b := range damaged {
		if _, err := repo.DecodeSegment(b); !errors.Is(err, repo.ErrDamaged) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := repo.DecodeSegment([]byte("CRNI\x02\x00\x00")); !errors.Is(err, repo.ErrUnsupported) {
		t.Errorf("format 2: %v", err)
	}
}

func TestSegmentThroughRepository(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := randSegment(rand.New(rand.NewPCG(23, 24)))
	sid, err := r.SaveSegment(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.LoadSegment(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalSegment(got), normalSegment(s)) {
		t.Fatal("segment differs after save and load")
	}
}
