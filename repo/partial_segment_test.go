package repo

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

// A run stopped while a segment's blobs went into the local index (over
// several transactions) leaves them located and the segment marked
// partial. While the segment is stored, the next sync reads it again;
// once it is not (lost, or removed by a prune before this host synced),
// the locations go: left, they placed blobs in packs no stored segment
// names, and an ingest relied on them (or a file-change cache entry
// naming them skipped its file).
func TestSyncIndexPartialSegment(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF}
	if err := Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.NewSaver(ctx, 1)
	data := []byte("stored and indexed")
	stored := r.Codec().IDFor(id.DataBlob, data)
	if _, err := s.Save(id.DataBlob, stored, data); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var seg id.ID
	if err := be.List(ctx, "index/", func(fi backends.Info) error {
		seg, err = id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	idx := r.Index()
	// A segment no longer stored, stopped half-way: its blob located.
	lost, orphan := id.ID{0xee}, id.ID{0xbb}
	pk := index.Pack{ID: id.ID{0xaa}, Type: id.DataBlob, Blobs: []index.Blob{{ID: orphan, Type: id.DataBlob, Pack: id.ID{0xaa}, Length: 10}}}
	if err := idx.AddSegment(lost, []index.Pack{pk}); err != nil {
		t.Fatal(err)
	}
	// And the stored one, stopped half-way too.
	for _, sid := range []id.ID{lost, seg} {
		if err := idx.AddSegmentInfo(sid, index.SegmentInfo{Partial: true}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := idx.Lookup(orphan); err != nil || ok {
		t.Errorf("a blob of a partly loaded segment no longer stored is still located (%v)", err)
	}
	if _, ok, err := idx.Lookup(stored); err != nil || !ok {
		t.Errorf("a blob of the stored segment is not located (%v)", err)
	}
	infos, err := idx.SegmentInfos()
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := infos[seg]; !ok || !info.Loaded || info.Partial {
		t.Errorf("stored segment recorded as %+v (%v), want loaded again", info, ok)
	}
	if _, ok := infos[lost]; ok {
		t.Errorf("the segment no longer stored is still recorded")
	}
}
