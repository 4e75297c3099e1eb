package index

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
)

func TestSegmentInfos(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "index.db"), "r", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := Pack{ID: blobID(9), Type: id.DataBlob, Blobs: []Blob{{ID: blobID(1), Type: id.DataBlob, Pack: blobID(9), Length: 50}}}
	q := Pack{ID: blobID(10), Type: id.DataBlob, Blobs: []Blob{{ID: blobID(2), Type: id.DataBlob, Pack: blobID(10), Length: 50}}}
	if err := d.AddSegment(blobID(7), []Pack{p}); err != nil {
		t.Fatal(err)
	}
	// Remembered as superseded: its packs are not loaded.
	ignored := SegmentInfo{Supersedes: []id.ID{blobID(5)}}
	if err := d.AddSegmentInfo(blobID(8), ignored, []Pack{q}); err != nil {
		t.Fatal(err)
	}
	replacing := SegmentInfo{Loaded: true, Supersedes: []id.ID{blobID(8), blobID(6)}}
	if err := d.AddSegmentInfo(blobID(11), replacing, nil); err != nil {
		t.Fatal(err)
	}
	infos, err := d.SegmentInfos()
	want := map[id.ID]SegmentInfo{blobID(7): {Loaded: true}, blobID(8): ignored, blobID(11): replacing}
	if err != nil || !reflect.DeepEqual(infos, want) {
		t.Fatalf("infos %+v, %v", infos, err)
	}
	if segs, _ := d.Segments(); len(segs) != 2 || !segs[blobID(7)] || !segs[blobID(11)] {
		t.Fatalf("loaded segments %v", segs)
	}
	if _, ok, _ := d.Lookup(blobID(2)); ok {
		t.Fatal("a blob of an ignored segment is located")
	}
	if err := d.ForgetSegment(blobID(8)); err != nil {
		t.Fatal(err)
	}
	if infos, _ := d.SegmentInfos(); len(infos) != 2 {
		t.Fatalf("after ForgetSegment: %v", infos)
	}
}
