package prune

import (
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

// A used blob in no index segment, with a pack named only by a deletion
// mark (deleted from storage by an earlier prune that stopped before
// dropping its mark): repair index reads the packs storage lists, so it
// cannot bring the blob back, and prune must point to repair snapshots,
// not repair index. A listed pack in no segment still points to repair
// index.
func TestMissingBlobAdviceIgnoresUnlistedPacks(t *testing.T) {
	var blob id.ID
	blob[0] = 1
	for _, tc := range []struct {
		listed bool
		want   string
	}{
		{false, "`cairn repair snapshots`"},
		{true, "`cairn repair index`"},
	} {
		p := &plan{packs: map[string]*packState{
			"data/ab": {name: "data/ab", marked: true, listed: tc.listed, blobs: map[id.ID]index.Blob{}},
		}}
		err := p.placeUsed(map[id.ID]bool{blob: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pack listed %v: %v, want the advice %s", tc.listed, err, tc.want)
		}
	}
}
