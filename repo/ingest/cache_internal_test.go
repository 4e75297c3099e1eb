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
	if got, xattrs := decodeEntry(append([]byte{withXattrsNoFlags}, b...)); got == nil || xattrs {
		t.Errorf("old entry: node %v, vouches for attributes %v; want a node that does not", got, xattrs)
	}
	got, xattrs := decodeEntry(append([]byte{withXattrs}, b...))
	if got == nil || !xattrs || got.Flags != 0x10 {
		t.Errorf("new entry: node %+v, vouches %v; want flags 0x10, vouched", got, xattrs)
	}
}
