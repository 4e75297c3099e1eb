package pack_test

import (
	"encoding/binary"
	"testing"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// Readers refuse, as damage and without reading it, a pack header longer
// than MaxSealedHeader of the repository's pack size, so no pack a writer
// closes at that size may have a longer one: the worst case is a pack
// filled with the smallest blobs there are, each claiming the largest raw
// length (the longest entry). The bound must also stay close to that worst
// case, or it bounds nothing.
func TestMaxSealedHeaderHoldsTheLongestHeader(t *testing.T) {
	k, err := crypto.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []int{1 << 20, 4 << 20, 16 << 20} {
		w := pack.NewWriter(id.DataBlob, target+pack.BlobOverhead)
		stored := make([]byte, pack.BlobOverhead)
		for i := 0; w.Size() < target; i++ {
			var bid id.ID
			binary.LittleEndian.PutUint64(bid[:], uint64(i))
			w.AddSealed(bid, stored, pack.MaxBlobSize)
		}
		data, _ := w.Finish(k)
		hl := int64(binary.LittleEndian.Uint32(data[len(data)-pack.TrailerSize:]))
		max := pack.MaxSealedHeader(int64(target))
		if hl > max {
			t.Errorf("pack size %d: a header of %d bytes, above the bound %d readers refuse", target, hl, max)
		}
		if max > hl*3/2 {
			t.Errorf("pack size %d: bound %d, more than 1.5 times the longest header (%d)", target, max, hl)
		}
	}
}
