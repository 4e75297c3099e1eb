package tree_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// randName is raw bytes, often not UTF-8, never "/" or NUL.
func randName(rng *rand.Rand) string {
	for {
		b := make([]byte, 1+rng.IntN(24))
		for i := range b {
			switch rng.IntN(4) {
			case 0:
				b[i] = byte(0x80 + rng.IntN(0x80)) // invalid UTF-8 on its own
			default:
				b[i] = byte(1 + rng.IntN(0x7f))
			}
			if b[i] == '/' {
				b[i] = '_'
			}
		}
		if s := string(b); tree.ValidName(s) {
			return s
		}
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// randUint spreads values over every varint width.
func randUint(rng *rand.Rand) uint64 {
	if rng.IntN(4) == 0 {
		return 0
	}
	return rng.Uint64() >> rng.IntN(64)
}

func randNode(rng *rand.Rand, name string) *tree.Node {
	n := &tree.Node{
		Name:     name,
		Kind:     tree.Kind(1 + rng.IntN(7)),
		Mode:     uint32(rng.IntN(07777 + 1)),
		UID:      uint32(randUint(rng)),
		GID:      uint32(randUint(rng)),
		MTime:    int64(randUint(rng)) * int64(1-2*rng.IntN(2)),
		ATime:    int64(randUint(rng)),
		CTime:    -int64(randUint(rng) >> 1),
		Dev:      randUint(rng),
		Inode:    randUint(rng),
		Links:    uint32(randUint(rng)),
		DevMajor: uint32(randUint(rng)),
		DevMinor: uint32(randUint(rng)),
	}
	if rng.IntN(2) == 0 {
		n.User, n.Group = randName(rng), string(randBytes(rng, rng.IntN(8)))
	}
	if rng.IntN(5) == 0 {
		n.MTime = math.MinInt64
		n.ATime = math.MaxInt64
	}
	for range rng.IntN(4) {
		x := tree.Xattr{Name: randName(rng), Value: randBytes(rng, rng.IntN(3)*rng.IntN(100))}
		if rng.IntN(3) == 0 {
			x.Name = "system.posix_acl_access"
		}
		n.Xattrs = append(n.Xattrs, x)
	}
	switch n.Kind {
	case tree.KindFile:
		for range rng.IntN(6) {
			c := tree.Chunk{Size: uint64(rng.Int64N(1 << 40))}
			if rng.IntN(3) == 0 {
				c.Hole = true
			} else {
				c.ID = id.ID(randBytes(rng, 32))
			}
			n.Content = append(n.Content, c)
			n.Size += c.Size
		}
	case tree.KindDir:
		if rng.IntN(5) > 0 {
			n.Subtree = id.ID(randBytes(rng, 32))
		}
		n.Size = randUint(rng) >> 2 // never written by ingest, kept by the codec
		n.Incomplete = rng.IntN(4) == 0
	case tree.KindSymlink:
		n.LinkTarget = string(randBytes(rng, rng.IntN(3)*rng.IntN(200)))
	}
	if rng.IntN(3) == 0 {
		n.Flags = uint32(randUint(rng))
	}
	return n
}

func randNodes(rng *rand.Rand, count int) []*tree.Node {
	seen := map[string]bool{}
	var nodes []*tree.Node
	for len(nodes) < count {
		name := randName(rng)
		if seen[name] {
			continue
		}
		seen[name] = true
		nodes = append(nodes, randNode(rng, name))
	}
	tree.Sort(nodes)
	return nodes
}

// normal makes empty slices nil so nodes compare by content.
func normal(nodes ...*tree.Node) []*tree.Node {
	out := make([]*tree.Node, len(nodes))
	for i, n := range nodes {
		c := *n
		c.Xattrs = nil
		for _, x := range n.Xattrs {
			if len(x.Value) == 0 {
				x.Value = nil
			}
			c.Xattrs = append(c.Xattrs, x)
		}
		if len(c.Content) == 0 {
			c.Content = nil
		}
		out[i] = &c
	}
	return out
}

func TestTreeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for i := 0; i < 500; i++ {
		nodes := randNodes(rng, rng.IntN(20))
		b, err := tree.Encode(nodes)
		if err != nil {
			t.Fatalf("tree %d: encode: %v", i, err)
		}
		got, err := tree.Decode(b)
		if err != nil {
			t.Fatalf("tree %d: decode: %v", i, err)
		}
		if !reflect.DeepEqual(normal(got...), normal(nodes...)) {
			t.Fatalf("tree %d differs:\n got %+v\nwant %+v", i, got, nodes)
		}
		if b2, _ := tree.Encode(got); !bytes.Equal(b2, b) {
			t.Fatalf("tree %d: encoding is not stable", i)
		}
		for _, n := range nodes {
			got, err := tree.DecodeNode(tree.EncodeNode(n))
			if err != nil {
				t.Fatalf("node %q: %v", n.Name, err)
			}
			if !reflect.DeepEqual(normal(got), normal(n)) {
				t.Fatalf("node differs:\n got %+v\nwant %+v", got, n)
			}
		}
		// Every strict prefix (of the smaller trees; a sample of the
		// others) and any extension is refused.
		step := 1 + len(b)/500
		for n := rng.IntN(step); n < len(b); n += step {
			if _, err := tree.Decode(b[:n]); !errors.Is(err, tree.ErrCorrupt) {
				t.Fatalf("tree %d truncated to %d of %d bytes: %v", i, n, len(b), err)
			}
		}
		if _, err := tree.Decode(append(bytes.Clone(b), 0)); !errors.Is(err, tree.ErrCorrupt) {
			t.Fatalf("tree %d with a trailing byte: %v", i, err)
		}
	}
}

func TestTreeBlobs(t *testing.T) {
	a, b := id.ID{1}, id.ID{2}
	n := &tree.Node{Name: "f", Kind: tree.KindFile, Content: []tree.Chunk{{ID: a, Size: 1}, {Size: 5, Hole: true}, {ID: b, Size: 2}}, Size: 8}
	if got := n.Blobs(); !reflect.DeepEqual(got, []id.ID{a, b}) {
		t.Fatalf("blobs %v", got)
	}
}

// EncodedBlobs reads from an encoded node the blobs Blobs lists of the
// decoded one, and stops at the first one its callback refuses or at
// damage.
func TestEncodedBlobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 500 {
		n := randNode(rng, fmt.Sprintf("n%d", i))
		b := tree.EncodeNode(n)
		var got []id.ID
		if !tree.EncodedBlobs(b, func(bid id.ID) bool { got = append(got, bid); return true }) {
			t.Fatalf("node %d: well-formed node refused", i)
		}
		if want := n.Blobs(); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("node %d: blobs %v, want %v", i, got, want)
		}
		if len(got) > 0 {
			calls := 0
			if tree.EncodedBlobs(b, func(id.ID) bool { calls++; return false }) || calls != 1 {
				t.Fatalf("node %d: a refused blob gave true after %d calls", i, calls)
			}
		}
	}
	a := id.ID{1}
	n := tree.EncodeNode(&tree.Node{Name: "f", Kind: tree.KindFile, Content: []tree.Chunk{{ID: a, Size: 1}}, Size: 1})
	at := bytes.Index(n, a[:])
	for cut := at - 3; cut < at+len(a); cut++ {
		if tree.EncodedBlobs(n[:cut], func(id.ID) bool { return true }) {
			t.Fatalf("node cut to %d bytes, inside its content, read as whole", cut)
		}
	}
}

// treeOf assembles a tree blob from already encoded nodes, bypassing
// Encode's checks.
func treeOf(nodes ...[]byte) []byte {
	b := binary.AppendUvarint([]byte("CRNT\x01"), uint64(len(nodes)))
	for _, n := range nodes {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	return b
}

func field(tag uint64, v []byte) []byte {
	b := binary.AppendUvarint(nil, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func uvarint(v uint64) []byte { return binary.AppendUvarint(nil, v) }

func fifo(name string) *tree.Node { return &tree.Node{Name: name, Kind: tree.KindFIFO, Mode: 0o600} }

func TestDecodeRejectsNames(t *testing.T) {
	enc := func(names ...string) []byte {
		var ns [][]byte
		for _, name := range names {
			ns = append(ns, tree.EncodeNode(fifo(name)))
		}
		return treeOf(ns...)
	}
	if _, err := tree.Decode(enc("a", "b", "\xff")); err != nil {
		t.Fatalf("valid tree: %v", err)
	}
	for _, names := range [][]string{
		{"b", "a"}, {"a", "a"}, {"a", "b", "b"}, {"\xff", "a"}, {"ab", "a"},
		{""}, {"."}, {".."}, {"a/b"}, {"/"}, {"a\x00"}, {"\x00"}, {"a", ".."}, {"../x"},
	} {
		if _, err := tree.Decode(enc(names...)); !errors.Is(err, tree.ErrCorrupt) {
			t.Errorf("names %q: %v", names, err)
		}
		if len(names) == 1 {
			if _, err := tree.DecodeNode(tree.EncodeNode(fifo(names[0]))); err == nil {
				t.Errorf("node named %q decodes", names[0])
			}
		}
		var nodes []*tree.Node
		for _, name := range names {
			nodes = append(nodes, fifo(name))
		}
		if _, err := tree.Encode(nodes); err == nil {
			t.Errorf("names %q encode", names)
		}
	}
	// A node without any name field.
	if _, err := tree.Decode(treeOf(field(2, uvarint(6)))); !errors.Is(err, tree.ErrCorrupt) {
		t.Errorf("nameless node: %v", err)
	}
}

// Fields a newer writer adds are skipped by this reader.
func TestDecodeSkipsUnknownFields(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	unknown := [][]byte{
		field(24, nil),
		field(23, []byte("x")),
		field(99, randBytes(rng, 300)),
		field(1<<20, uvarint(7)),
		field(math.MaxUint64, randBytes(rng, 40)),
		field(0, []byte("tag zero")),
	}
	for i := 0; i < 100; i++ {
		nodes := randNodes(rng, 1+rng.IntN(5))
		var encoded [][]byte
		for _, n := range nodes {
			b := tree.EncodeNode(n)
			// Insert unknown fields at field boundaries: first, last and
			// between the name and the rest.
			nameLen := len(field(1, []byte(n.Name)))
			var out []byte
			out = append(out, unknown[rng.IntN(len(unknown))]...)
			out = append(out, b[:nameLen]...)
			out = append(out, unknown[rng.IntN(len(unknown))]...)
			out = append(out, b[nameLen:]...)
			out = append(out, unknown[rng.IntN(len(unknown))]...)
			got, err := tree.DecodeNode(out)
			if err != nil {
				t.Fatalf("node with unknown fields: %v", err)
			}
			if !reflect.DeepEqual(normal(got), normal(n)) {
				t.Fatalf("node with unknown fields differs:\n got %+v\nwant %+v", got, n)
			}
			encoded = append(encoded, out)
		}
		got, err := tree.Decode(treeOf(encoded...))
		if err != nil {
			t.Fatalf("tree with unknown fields: %v", err)
		}
		if !reflect.DeepEqual(normal(got...), normal(nodes...)) {
			t.Fatal("tree with unknown fields differs")
		}
	}
}

func TestDecodeRejectsFields(t *testing.T) {
	name := field(1, []byte("n"))
	node := func(fields ...[]byte) []byte { return bytes.Join(append([][]byte{name}, fields...), nil) }
	kind := func(k tree.Kind) []byte { return field(2, uvarint(uint64(k))) }
	sub := field(20, make([]byte, 32))
	if _, err := tree.DecodeNode(node(kind(tree.KindDir), sub)); err != nil {
		t.Fatalf("valid dir: %v", err)
	}
	if _, err := tree.DecodeNode(node(kind(tree.KindFile), field(11, uvarint(3)), field(19, append(uvarint(3), 1)))); err != nil {
		t.Fatalf("valid file with a hole: %v", err)
	}
	cases := map[string][]byte{
		"no kind":             node(),
		"kind 0":              node(kind(0)),
		"kind 8":              node(kind(8)),
		"kind 300":            node(field(2, uvarint(300))),
		"dir without subtree": node(kind(tree.KindDir)),
		"short subtree":       node(kind(tree.KindDir), field(20, make([]byte, 31))),
		"long subtree":        node(kind(tree.KindDir), field(20, make([]byte, 33))),
		"mode type bits":      node(kind(tree.KindFIFO), field(3, uvarint(0o10644))),
		"uid over 32 bits":    node(kind(tree.KindFIFO), field(4, uvarint(1<<32))),
		"links over 32 bits":  node(kind(tree.KindFIFO), field(14, uvarint(1<<32))),
		"size too large":      node(kind(tree.KindFile), field(11, uvarint(1<<62+1))),
		"integer extra byte":  node(kind(tree.KindFIFO), field(3, []byte{1, 0})),
		"integer empty":       node(kind(tree.KindFIFO), field(3, nil)),
		"integer truncated":   node(kind(tree.KindFIFO), field(3, []byte{0x80})),
		"time truncated":      node(kind(tree.KindFIFO), field(8, []byte{0x80})),
		"field overruns":      append(node(kind(tree.KindFIFO)), 3, 5, 1),
		"tag truncated":       append(node(kind(tree.KindFIFO)), 0x80),
		"length missing":      append(node(kind(tree.KindFIFO)), 3),
		"xattr empty name":    node(kind(tree.KindFIFO), field(18, []byte{0, 'v'})),
		"xattr name overruns": node(kind(tree.KindFIFO), field(18, []byte{5, 'a'})),
		"xattr empty":         node(kind(tree.KindFIFO), field(18, nil)),
		"content on a fifo":   node(kind(tree.KindFIFO), field(19, append(uvarint(3), 1))),
		"content sum":         node(kind(tree.KindFile), field(11, uvarint(4)), field(19, append(uvarint(3), 1))),
		"content no size":     node(kind(tree.KindFile), field(19, append(uvarint(3), 1))),
		"chunk kind 2":        node(kind(tree.KindFile), field(11, uvarint(3)), field(19, append(uvarint(3), 2))),
		"chunk ID short":      node(kind(tree.KindFile), field(11, uvarint(3)), field(19, append(append(uvarint(3), 0), make([]byte, 31)...))),
		"chunk kind missing":  node(kind(tree.KindFile), field(11, uvarint(3)), field(19, uvarint(3))),
		"chunk too large":     node(kind(tree.KindFile), field(19, append(uvarint(1<<62+1), 1))),
		"content overflow":    node(kind(tree.KindFile), field(19, bytes.Repeat(append(uvarint(1<<62), 1), 4))),
	}
	for name, b := range cases {
		if n, err := tree.DecodeNode(b); err == nil {
			t.Errorf("%s: decodes to %+v", name, n)
		}
		if _, err := tree.Decode(treeOf(b)); !errors.Is(err, tree.ErrCorrupt) {
			t.Errorf("%s: in a tree: %v", name, err)
		}
	}
}

func TestDecodeRejectsFraming(t *testing.T) {
	valid := treeOf(tree.EncodeNode(fifo("a")))
	for name, b := range map[string][]byte{
		"empty":          nil,
		"magic":          append([]byte("CRNX"), valid[4:]...),
		"format 2":       append([]byte("CRNT\x02"), valid[5:]...),
		"format 0":       append([]byte("CRNT\x00"), valid[5:]...),
		"no count":       []byte("CRNT\x01"),
		"count too big":  append([]byte("CRNT\x01\x02"), valid[6:]...),
		"count huge":     append(append([]byte("CRNT\x01"), uvarint(math.MaxUint64)...), valid[6:]...),
		"count overflow": append([]byte("CRNT\x01"), bytes.Repeat([]byte{0xff}, 11)...),
		"node too long":  append([]byte("CRNT\x01\x01\x7f"), valid[7:]...),
		"node len huge":  append(append([]byte("CRNT\x01\x01"), uvarint(math.MaxUint64)...), valid[7:]...),
	} {
		if _, err := tree.Decode(b); !errors.Is(err, tree.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if nodes, err := tree.Decode([]byte("CRNT\x01\x00")); err != nil || len(nodes) != 0 {
		t.Errorf("empty tree: %v %v", nodes, err)
	}
}

func TestEncodeRejects(t *testing.T) {
	for i, nodes := range [][]*tree.Node{
		{fifo("b"), fifo("a")},
		{fifo("a"), fifo("a")},
		{fifo("")},
		{fifo("x/y")},
	} {
		if _, err := tree.Encode(nodes); err == nil {
			t.Errorf("case %d encodes", i)
		}
	}
	nodes := []*tree.Node{fifo("b"), fifo("a"), fifo("c")}
	tree.Sort(nodes)
	if _, err := tree.Encode(nodes); err != nil {
		t.Fatalf("sorted: %v", err)
	}
	_ = fmt.Sprint(tree.KindFile, tree.Kind(0))
}

// DecodePartial leaves out a node with an invalid name and keeps the rest;
// Decode still refuses the tree.
func TestDecodePartialSkipsInvalidName(t *testing.T) {
	nodes := []*tree.Node{{Name: "a", Kind: tree.KindFile}, {Name: "..", Kind: tree.KindFile}, {Name: "z", Kind: tree.KindFile}}
	b := []byte("CRNT\x01\x03")
	for _, n := range nodes {
		nb := tree.EncodeNode(n)
		b = append(b, byte(len(nb)))
		b = append(b, nb...)
	}
	got, bad, err := tree.DecodePartial(b)
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "z" || len(bad) != 1 || !errors.Is(bad[0], tree.ErrCorrupt) {
		t.Fatalf("DecodePartial: %v %v %v", got, bad, err)
	}
	if _, err := tree.Decode(b); !errors.Is(err, tree.ErrCorrupt) {
		t.Fatalf("Decode: %v, want tree.ErrCorrupt", err)
	}
}

// An entry left out for a bad field, not its name, is still named.
func TestDecodePartialNamesEntryWithBadField(t *testing.T) {
	good := tree.EncodeNode(&tree.Node{Name: "a", Kind: tree.KindFile})
	bad := tree.EncodeNode(&tree.Node{Name: "b", Kind: tree.KindFile})
	bad = append(bad, 3, 2, 0x80, 0x80) // mode: a uvarint 1<<14 > 07777
	b := []byte("CRNT\x01\x02")
	b = append(b, byte(len(good)))
	b = append(b, good...)
	b = append(b, byte(len(bad)))
	b = append(b, bad...)
	got, errs, err := tree.DecodePartial(b)
	if err != nil || len(got) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), `"b"`) {
		t.Fatalf("DecodePartial: %v %v %v, want a kept and b named", got, errs, err)
	}
}

// craftTree encodes nodes in the order given, as a buggy or hostile writer
// could.
func craftTree(nodes ...*tree.Node) []byte {
	b := []byte("CRNT\x01")
	b = append(b, byte(len(nodes)))
	for _, n := range nodes {
		nb := tree.EncodeNode(n)
		b = append(b, byte(len(nb)))
		b = append(b, nb...)
	}
	return b
}

// One entry out of name order costs nothing: every entry after it is
// still there, and the nodes come back sorted. It used to cost every
// entry after it that sorts before it.
func TestDecodePartialOutOfOrderKeepsTheRest(t *testing.T) {
	b := craftTree(&tree.Node{Name: "a", Kind: tree.KindFile}, &tree.Node{Name: "z", Kind: tree.KindFile},
		&tree.Node{Name: "b", Kind: tree.KindFile}, &tree.Node{Name: "c", Kind: tree.KindFile})
	got, bad, err := tree.DecodePartial(b)
	var names []string
	for _, n := range got {
		names = append(names, n.Name)
	}
	if err != nil || strings.Join(names, ",") != "a,b,c,z" || len(bad) != 0 {
		t.Fatalf("DecodePartial: %q %v %v, want a,b,c,z and nothing left out", names, bad, err)
	}
	if _, err := tree.Decode(b); !errors.Is(err, tree.ErrCorrupt) || !strings.Contains(err.Error(), "not sorted") {
		t.Fatalf("Decode: %v, want names not sorted", err)
	}
}

// A repeated name leaves out only the later entry, wherever it is.
func TestDecodePartialRepeatedNameCostsOnlyItself(t *testing.T) {
	b := craftTree(&tree.Node{Name: "a", Kind: tree.KindFile, Size: 0, UID: 1}, &tree.Node{Name: "m", Kind: tree.KindFile},
		&tree.Node{Name: "a", Kind: tree.KindFile, UID: 2}, &tree.Node{Name: "b", Kind: tree.KindFile})
	got, bad, err := tree.DecodePartial(b)
	var names []string
	for _, n := range got {
		names = append(names, n.Name)
	}
	if err != nil || strings.Join(names, ",") != "a,b,m" || got[0].UID != 1 || len(bad) != 1 || !strings.Contains(bad[0].Error(), `node 2: names not sorted and unique at "a"`) {
		t.Fatalf("DecodePartial: %q %v %v, want a (the first),b,m and node 2 left out", names, bad, err)
	}
}

// TestFlagsField: the inode flags are tag 22, written only when set, so
// a node without flags encodes as it did before the field existed (and
// unchanged trees keep their IDs).
func TestFlagsField(t *testing.T) {
	n := &tree.Node{Name: "a", Kind: tree.KindFile, Mode: 0o644}
	plain := tree.EncodeNode(n)
	if want := []byte{1, 1, 'a', 2, 1, 1, 3, 2, 0xa4, 0x03}; !bytes.Equal(plain, want) {
		t.Fatalf("node without flags encodes as % x, want % x", plain, want)
	}
	n.Flags = 0x30 // immutable, append-only
	b := tree.EncodeNode(n)
	if want := append(bytes.Clone(plain), 22, 1, 0x30); !bytes.Equal(b, want) {
		t.Fatalf("node with flags encodes as % x, want % x", b, want)
	}
	got, err := tree.DecodeNode(b)
	if err != nil || got.Flags != 0x30 {
		t.Fatalf("decoded flags %#x (%v), want 0x30", got.Flags, err)
	}
	if _, err := tree.DecodeNode(append(bytes.Clone(plain), 22, 5, 0x80, 0x80, 0x80, 0x80, 0x10)); err == nil {
		t.Error("flags beyond 32 bits accepted")
	}
}
