package fuzz

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// seedNodes has one node of every kind, with the fields each kind uses.
func seedNodes() []*tree.Node {
	nodes := []*tree.Node{
		{Name: "dir", Kind: tree.KindDir, Mode: 0o1777, UID: 1000, GID: 100, User: "ann", Group: "users", MTime: 1700000000123456789, Subtree: id.ID{1, 2, 3}},
		{Name: "file", Kind: tree.KindFile, Mode: 0o4755, Size: 1<<20 + 4096, MTime: -1, ATime: 1, CTime: 2, Dev: 66306, Inode: 1234, Links: 2,
			Xattrs:  []tree.Xattr{{Name: "user.note", Value: []byte("hi")}, {Name: "security.capability", Value: []byte{1, 0, 0, 2}}, {Name: "user.empty"}},
			Content: []tree.Chunk{{ID: id.ID{9}, Size: 1 << 20}, {Size: 4096, Hole: true}}},
		{Name: "link", Kind: tree.KindSymlink, Mode: 0o777, LinkTarget: "../target\xff"},
		{Name: "tty", Kind: tree.KindCharDev, Mode: 0o620, DevMajor: 4, DevMinor: 1},
		{Name: "sda", Kind: tree.KindBlockDev, Mode: 0o660, DevMajor: 8, DevMinor: 0},
		{Name: "fifo", Kind: tree.KindFIFO, Mode: 0o600},
		{Name: "sock", Kind: tree.KindSocket, Mode: 0o755},
		{Name: "caf\xe9 latin-1", Kind: tree.KindFile, Mode: 0o644},
	}
	tree.Sort(nodes)
	return nodes
}

// withUnknownField appends a field of a tag this cairn does not know.
func withUnknownField(node []byte) []byte {
	b := binary.AppendUvarint(bytes.Clone(node), 99)
	b = binary.AppendUvarint(b, 3)
	return append(b, "new"...)
}

func treeSeeds() []seed {
	nodes := seedNodes()
	all, err := tree.Encode(nodes)
	if err != nil {
		panic(err)
	}
	empty, _ := tree.Encode(nil)
	one, _ := tree.Encode(nodes[:1])
	future := binary.AppendUvarint([]byte("CRNT\x01"), 1)
	n := withUnknownField(tree.EncodeNode(nodes[0]))
	future = binary.AppendUvarint(future, uint64(len(n)))
	future = append(future, n...)
	return []seed{
		{"empty", []any{empty}},
		{"all-kinds", []any{all}},
		{"one", []any{one}},
		{"unknown-field", []any{future}},
	}
}

// canonical is what encoding a decoded node keeps: the codec writes a
// link target only for symlinks and a subtree only for directories, and
// does not tell nil from empty.
func canonical(nodes ...*tree.Node) []*tree.Node {
	out := make([]*tree.Node, len(nodes))
	for i, n := range nodes {
		c := *n
		if c.Kind != tree.KindSymlink {
			c.LinkTarget = ""
		}
		if c.Kind != tree.KindDir {
			c.Subtree = id.ID{}
		}
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

func checkNode(t *testing.T, n *tree.Node) {
	t.Helper()
	if !tree.ValidName(n.Name) {
		t.Fatalf("decoded invalid name %q", n.Name)
	}
	if n.Kind < tree.KindFile || n.Kind > tree.KindSocket {
		t.Fatalf("decoded kind %d", n.Kind)
	}
	if n.Mode&^0o7777 != 0 {
		t.Fatalf("decoded mode %#o", n.Mode)
	}
	var sum uint64
	for _, c := range n.Content {
		sum += c.Size
	}
	if n.Kind != tree.KindFile && len(n.Content) > 0 || n.Kind == tree.KindFile && sum != n.Size {
		t.Fatalf("%s with %d bytes of content, size %d", n.Kind, sum, n.Size)
	}
	for _, x := range n.Xattrs {
		if x.Name == "" {
			t.Fatal("decoded an xattr without a name")
		}
	}
}

func FuzzTreeDecode(f *testing.F) {
	addSeeds(f, treeSeeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		var nodes []*tree.Node
		var err error
		bounded(t, allocLimit(len(b)), func() { nodes, err = tree.Decode(b) })
		if err != nil {
			wantErr(t, err, tree.ErrCorrupt)
			return
		}
		for i, n := range nodes {
			checkNode(t, n)
			if i > 0 && nodes[i-1].Name >= n.Name {
				t.Fatalf("decoded names out of order: %q, %q", nodes[i-1].Name, n.Name)
			}
		}
		enc, err := tree.Encode(nodes)
		if err != nil {
			t.Fatalf("decoded tree does not encode: %v", err)
		}
		again, err := tree.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded tree does not decode: %v", err)
		}
		if !reflect.DeepEqual(canonical(again...), canonical(nodes...)) {
			t.Fatalf("re-encoded tree differs:\n got %+v\nwant %+v", again, nodes)
		}
		if enc2, _ := tree.Encode(again); !bytes.Equal(enc2, enc) {
			t.Fatal("encoding is not stable")
		}
	})
}

func FuzzTreeDecodeNode(f *testing.F) {
	var seeds []seed
	for _, n := range seedNodes() {
		seeds = append(seeds, seed{n.Kind.String(), []any{tree.EncodeNode(n)}})
	}
	seeds = append(seeds, seed{"unknown-field", []any{withUnknownField(tree.EncodeNode(seedNodes()[0]))}})
	addSeeds(f, seeds)
	f.Fuzz(func(t *testing.T, b []byte) {
		var n *tree.Node
		var err error
		bounded(t, allocLimit(len(b)), func() { n, err = tree.DecodeNode(b) })
		if err != nil {
			return
		}
		checkNode(t, n)
		again, err := tree.DecodeNode(tree.EncodeNode(n))
		if err != nil {
			t.Fatalf("re-encoded node does not decode: %v", err)
		}
		if !reflect.DeepEqual(canonical(again), canonical(n)) {
			t.Fatalf("re-encoded node differs:\n got %+v\nwant %+v", again, n)
		}
	})
}
