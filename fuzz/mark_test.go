package fuzz

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

func markSeeds() []seed {
	packs := []repo.MarkedPack{{Type: id.DataBlob, ID: id.ID{1}}, {Type: id.TreeBlob, ID: id.ID{2, 3}}}
	return []seed{
		{"empty", []any{repo.EncodeMark(nil)}},
		{"packs", []any{repo.EncodeMark(packs)}},
	}
}

func FuzzMarkDecode(f *testing.F) {
	addSeeds(f, markSeeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		var packs []repo.MarkedPack
		var err error
		bounded(t, allocLimit(len(b)), func() { packs, err = repo.DecodeMark(b) })
		if err != nil {
			wantErr(t, err, repo.ErrDamaged, repo.ErrUnsupported)
			return
		}
		for _, p := range packs {
			if !p.Type.Valid() {
				t.Fatalf("pack %s of type %d", p.ID.Short(), p.Type)
			}
		}
		enc := repo.EncodeMark(packs)
		again, err := repo.DecodeMark(enc)
		if err != nil {
			t.Fatalf("re-encoded mark does not decode: %v", err)
		}
		if len(again) != len(packs) || (len(packs) > 0 && !reflect.DeepEqual(again, packs)) {
			t.Fatal("re-encoded mark differs")
		}
		if !bytes.Equal(repo.EncodeMark(again), enc) {
			t.Fatal("encoding is not stable")
		}
	})
}
