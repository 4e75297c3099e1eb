package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

// An ingest wrote each checkpoint as one index segment naming every pack
// uploaded since the previous one, so millions of small files made a
// segment of hundreds of MiB. It now splits at segmentBlobs (here lowered
// to 5 blobs), never splitting a pack, and every blob is found again by a
// host that reads the index afresh.
func TestCheckpointSegmentsSplit(t *testing.T) {
	defer func(n int) { segmentBlobs = n }(segmentBlobs)
	segmentBlobs = 5
	ctx := context.Background()
	be := mem.New()
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF, PackSize: 1 << 20}
	if err := Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.NewSaver(ctx, 2)
	blobs := map[id.ID][]byte{}
	for i := 0; i < 30; i++ {
		b := make([]byte, 200<<10) // random: five or so to a 1 MiB pack
		rand.Read(b)
		bid := r.Codec().IDFor(id.DataBlob, b)
		blobs[bid] = b
		if _, err := s.Save(id.DataBlob, bid, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}

	var sids []id.ID
	if err := be.List(ctx, "index/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		sids = append(sids, sid)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	indexed := 0
	for _, sid := range sids {
		seg, err := r.LoadSegment(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range seg.Packs {
			n += len(p.Blobs)
		}
		if n > segmentBlobs && len(seg.Packs) > 1 {
			t.Errorf("segment %s names %d blobs in %d packs, more than %d", sid.Short(), n, len(seg.Packs), segmentBlobs)
		}
		indexed += n
	}
	if len(sids) < 3 || indexed != len(blobs) {
		t.Fatalf("%d segments naming %d blobs, want several naming %d", len(sids), indexed, len(blobs))
	}

	// Another host, with an empty cache, finds every blob.
	opt.CacheDir = t.TempDir()
	r2, err := Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	for bid, want := range blobs {
		got, err := r2.LoadBlob(ctx, id.DataBlob, bid, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("blob %s read back: %v", bid.Short(), err)
		}
	}
}

func TestSplitSegments(t *testing.T) {
	var packs []index.Pack
	for _, n := range []int{3, 3, 7, 1, 1} {
		packs = append(packs, index.Pack{Blobs: make([]index.Blob, n)})
	}
	var got []int
	for _, run := range SplitSegments(packs, 5) {
		n := 0
		for _, p := range run {
			n += len(p.Blobs)
		}
		got = append(got, n)
	}
	if fmt.Sprint(got) != "[3 3 7 2]" {
		t.Errorf("runs of %v blobs, want [3 3 7 2]", got)
	}
	if runs := SplitSegments(nil, 5); len(runs) != 1 || len(runs[0]) != 0 {
		t.Errorf("no packs: %d runs, want one empty (prune writes it to supersede)", len(runs))
	}
}
