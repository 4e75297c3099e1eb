package fuzz

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

func segmentSeeds() []seed {
	s := &repo.Segment{}
	for _, p := range seedPacks() {
		entries, err := pack.Verify(codec(), p.data)
		if err != nil {
			panic(err)
		}
		ip := index.Pack{ID: blake3.Sum256(p.data), Type: id.DataBlob, Blobs: []index.Blob{}}
		for _, e := range entries {
			ip.Type = e.Type
			ip.Blobs = append(ip.Blobs, index.Blob{ID: e.ID, Type: e.Type, Pack: ip.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
		}
		s.Packs = append(s.Packs, ip)
	}
	pruned := &repo.Segment{Packs: s.Packs[:1], Supersedes: []id.ID{{1}, {2}}}
	return []seed{
		{"empty", []any{repo.EncodeSegment(&repo.Segment{})}},
		{"packs", []any{repo.EncodeSegment(s)}},
		{"supersedes", []any{repo.EncodeSegment(pruned)}},
	}
}

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

func FuzzSegmentDecode(f *testing.F) {
	addSeeds(f, segmentSeeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		var s *repo.Segment
		var err error
		bounded(t, allocLimit(len(b)), func() { s, err = repo.DecodeSegment(b) })
		if err != nil {
			wantErr(t, err, repo.ErrDamaged, repo.ErrUnsupported)
			return
		}
		for _, p := range s.Packs {
			if !p.Type.Valid() {
				t.Fatalf("pack of type %d", p.Type)
			}
			for _, bl := range p.Blobs {
				if bl.Type != p.Type || bl.Pack != p.ID {
					t.Fatalf("blob %+v in pack %s of type %s", bl, p.ID.Short(), p.Type)
				}
			}
		}
		enc := repo.EncodeSegment(s)
		again, err := repo.DecodeSegment(enc)
		if err != nil {
			t.Fatalf("re-encoded segment does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalSegment(again), normalSegment(s)) {
			t.Fatal("re-encoded segment differs")
		}
		if !bytes.Equal(repo.EncodeSegment(again), enc) {
			t.Fatal("encoding is not stable")
		}
	})
}
