package dump

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo/tree"
)

// The sparse map joins adjacent data chunks and keeps a trailing hole as a
// final segment of length 0 at the apparent size.
func TestSparseMap(t *testing.T) {
	d := func(n uint64) tree.Chunk { return tree.Chunk{ID: [32]byte{1}, Size: n} }
	h := func(n uint64) tree.Chunk { return tree.Chunk{Size: n, Hole: true} }
	for _, tc := range []struct {
		content []tree.Chunk
		want    []segment
		data    uint64
	}{
		{[]tree.Chunk{d(1), d(2), h(5), d(3)}, []segment{{0, 3}, {8, 3}}, 6},
		{[]tree.Chunk{h(4), d(2), h(6)}, []segment{{4, 2}, {12, 0}}, 2},
		{[]tree.Chunk{h(7)}, []segment{{7, 0}}, 0},
	} {
		n := &tree.Node{Kind: tree.KindFile, Content: tc.content}
		for _, c := range tc.content {
			n.Size += c.Size
		}
		got, data := sparseMap(n)
		if !reflect.DeepEqual(got, tc.want) || data != tc.data {
			t.Errorf("%v: map %v with %d data bytes, want %v with %d", tc.content, got, data, tc.want, tc.data)
		}
	}
}

// A PAX record's length counts itself, across the digit-count boundaries.
func TestPaxRecord(t *testing.T) {
	for n := 0; n < 1100; n++ {
		r := paxRecord("k", strings.Repeat("v", n))
		l, _, _ := strings.Cut(r, " ")
		if strconv.Itoa(len(r)) != l {
			t.Fatalf("value of %d bytes: record %q says %s, is %d", n, r[:min(len(r), 20)], l, len(r))
		}
	}
}
