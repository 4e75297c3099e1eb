package dump

import (
	"archive/tar"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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

// The stand-in ustar name of a sparse entry is cut to 100 bytes on a
// character boundary: a long multi-byte name is not left with half a
// character.
func TestCutName(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		want string
	}{
		{"short", 100, "short"},
		{strings.Repeat("a", 101), 100, strings.Repeat("a", 100)},
		{"a" + strings.Repeat("é", 60), 100, "a" + strings.Repeat("é", 49)},   // 2-byte
		{strings.Repeat("稀", 40), 100, strings.Repeat("稀", 33)},               // 3-byte
		{"ab" + strings.Repeat("😀", 30), 100, "ab" + strings.Repeat("😀", 24)}, // 4-byte
		{strings.Repeat("\x80", 120), 100, strings.Repeat("\x80", 100)},       // not UTF-8
	} {
		got := cutName(tc.name, tc.n)
		if got != tc.want {
			t.Errorf("cutName(%q, %d) = %q, want %q", tc.name, tc.n, got, tc.want)
		}
		if len(got) > tc.n || utf8.ValidString(tc.name) && !utf8.ValidString(got) {
			t.Errorf("cutName(%q, %d) = %q: too long or not UTF-8", tc.name, tc.n, got)
		}
	}

	// the header block of a sparse stand-in with a long multi-byte name
	u := ustar{name: "src/deep/GNUSparseFile.0/" + strings.Repeat("é", 60) + ".img", typ: '0'}
	name, _, _ := strings.Cut(string(u.block()[:100]), "\x00")
	if !utf8.ValidString(name) || !strings.HasPrefix(u.name, name) || len(name) != 99 {
		t.Errorf("the header block's name is %q (%d bytes)", name, len(name))
	}
}

// An entry whose name, link target or owner names are not UTF-8 is marked
// hdrcharset=BINARY, which libarchive needs to take the bytes as they are;
// a UTF-8 entry is left unmarked.
func TestBinaryNames(t *testing.T) {
	for _, tc := range []struct {
		h    tar.Header
		want bool
	}{
		{tar.Header{Name: "plain/ünïcödé"}, false},
		{tar.Header{Name: "latin1-\xe9t\xe9"}, true},
		{tar.Header{Name: "link", Linkname: "to-\xff"}, true},
		{tar.Header{Name: "owned", Uname: "\xfe", Gname: "g"}, true},
		{tar.Header{Name: "owned", Gname: "\xfe"}, true},
	} {
		h := tc.h
		got := binaryNames(&h).PAXRecords["hdrcharset"] == "BINARY"
		if got != tc.want {
			t.Errorf("%q -> %q (%q, %q): marked %v, want %v", h.Name, h.Linkname, h.Uname, h.Gname, got, tc.want)
		}
	}
}
