package ingest

import (
	"testing"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// blobsKnown vouches for an entry only when every blob it names is located
// in a pack the saver knows, and leaves an entry with many blobs to the
// per-blob path without looking them all up.
func TestCacheBlobsKnown(t *testing.T) {
	entry := func(blobs int) []byte {
		n := &tree.Node{Name: "f", Kind: tree.KindFile}
		for i := range blobs {
			n.Content = append(n.Content, tree.Chunk{ID: id.ID{byte(i + 1)}, Size: 1}, tree.Chunk{Size: 5, Hole: true})
			n.Size += 6
		}
		return append([]byte{withXattrs}, tree.EncodeNode(n)...)
	}
	good, lost := id.ID{0xa}, id.ID{0xb}
	lookups := 0
	locate := func(missing id.ID, pack id.ID) func(id.ID) (index.Blob, bool) {
		return func(bid id.ID) (index.Blob, bool) {
			lookups++
			return index.Blob{ID: bid, Pack: pack}, bid != missing
		}
	}
	c := &fileCache{knownIn: func(p id.ID) bool { return p == good }}
	if !c.blobsKnown(entry(3), locate(id.Zero, good)) {
		t.Error("entry whose blobs are all in a known pack not vouched for")
	}
	if c.blobsKnown(entry(3), locate(id.ID{2}, good)) {
		t.Error("entry with a blob the index lacks vouched for")
	}
	if c.blobsKnown(entry(3), locate(id.Zero, lost)) {
		t.Error("entry whose pack storage lacks vouched for")
	}
	if !c.blobsKnown(entry(0), locate(id.Zero, lost)) {
		t.Error("empty file not vouched for")
	}
	lookups = 0
	if c.blobsKnown(entry(folderBlobs+1), locate(id.Zero, good)) || lookups > folderBlobs {
		t.Errorf("entry of %d blobs vouched for after %d lookups", folderBlobs+1, lookups)
	}
	if (&fileCache{}).blobsKnown(entry(1), locate(id.Zero, good)) {
		t.Error("vouched for without a saver to ask")
	}
}

// An entry written before the cache kept inode flags says nothing of
// them, so it must not vouch for the attributes: the file's flags (an
// immutable bit set long ago) would be recorded as none.
func TestCacheEntryWithoutFlagsDoesNotVouch(t *testing.T) {
	n := &tree.Node{Name: "f", Kind: tree.KindFile, Flags: 0x10}
	b := tree.EncodeNode(n)
	if got, xattrs := decodeEntry(append([]byte{withXattrs}, b...)); got == nil || xattrs {
		t.Errorf("old entry: node %v, vouches for attributes %v; want a node that does not", got, xattrs)
	}
	got, xattrs := decodeEntry(encodeEntry(n))
	if got == nil || !xattrs || got.Flags != 0x10 {
		t.Errorf("new entry: node %+v, vouches %v; want flags 0x10, vouched", got, xattrs)
	}
	got, xattrs = decodeEntry(append([]byte{withXattrsFlags}, b...))
	if got == nil || !xattrs || got.Flags != 0x10 {
		t.Errorf("entry of the short-lived form: node %+v, vouches %v; want flags 0x10, vouched", got, xattrs)
	}
}

// Binaries from before inode flags read an entry by dropping a leading
// 0x00 and decoding the rest as a node, skipping fields they do not know.
// An entry they cannot decode counts as no entry, and they read the whole
// file again: alternating an old and a new binary on one cache folder
// re-read every file's content on each old run.
func TestCacheEntryReadableByOlderBinaries(t *testing.T) {
	n := &tree.Node{Name: "f", Kind: tree.KindFile, Size: 6, MTime: 5, CTime: 7, Inode: 9, Flags: 0x10,
		Content: []tree.Chunk{{ID: id.ID{1}, Size: 6}}, Xattrs: []tree.Xattr{{Name: "user.a", Value: []byte("b")}}}
	c := &fileCache{}
	c.record("/src/f", n)
	if len(c.batch) != 1 {
		t.Fatalf("%d entries recorded, want 1", len(c.batch))
	}
	for _, e := range c.batch {
		v := e.Value
		if v[0] != 0x00 {
			t.Fatalf("entry starts with %#x; older binaries read only entries starting with 0x00 (or a node) as holding the attributes", v[0])
		}
		old, err := tree.DecodeNode(v[1:]) // what an older binary does
		if err != nil {
			t.Fatalf("an older binary cannot decode the entry: %v", err)
		}
		if old.Name != n.Name || old.Size != n.Size || old.MTime != n.MTime || old.CTime != n.CTime || old.Inode != n.Inode || len(old.Content) != 1 || len(old.Xattrs) != 1 {
			t.Errorf("an older binary reads %+v, want %+v", old, n)
		}
		got, xattrs := decodeEntry(v)
		if got == nil || !xattrs || got.Flags != 0x10 {
			t.Errorf("entry read back: node %+v, vouches %v; want flags 0x10, vouched", got, xattrs)
		}
	}
}
