package repo_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/id"
)

// LoadBlobsInto decrypts in place in the caller's span, and a blob listed
// twice (a chunk two files share) gets its plaintext both times.
func TestLoadBlobsIntoSpan(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepositoryOn(t, mem.New())
	saved := saveBlobs(t, r, rand.New(rand.NewPCG(3, 4)))
	want := map[id.ID][]byte{}
	var bs []index.Blob
	for _, b := range saved {
		if b.t != id.DataBlob {
			continue
		}
		loc, ok, err := r.LookupBlob(b.id)
		if err != nil || !ok {
			t.Fatalf("lookup %s: %v %v", b.id.Short(), ok, err)
		}
		want[b.id] = b.plain
		bs = append(bs, loc, loc)
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].Offset < bs[j].Offset })
	for _, withSpan := range []bool{false, true} {
		var span []byte
		if withSpan {
			span = make([]byte, repo.SpanLength(bs))
		}
		calls := 0
		err := r.LoadBlobsInto(ctx, bs, span, bufpool.NewList(1<<20), func(b index.Blob, plain []byte, err error) {
			calls++
			if err != nil || !bytes.Equal(plain, want[b.ID]) {
				t.Errorf("blob %s: %d bytes, %v", b.ID.Short(), len(plain), err)
			}
		})
		if err != nil || calls != len(bs) {
			t.Fatalf("LoadBlobsInto: %d calls of %d, %v", calls, len(bs), err)
		}
	}
}
