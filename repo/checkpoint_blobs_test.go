package repo

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo/id"
)

// Small files fill 256 MiB of packs with hundreds of thousands of blobs,
// and an ingest held all of them (pending, the packs' lists and the local
// index's transaction) until the next checkpoint: 90 MB of a 330 MB peak
// for 300,000 tiny files. A checkpoint is now also due every
// checkpointBlobs new blobs (here lowered to 10), the bytes and the time
// left far from their thresholds.
func TestCheckpointEveryBlobs(t *testing.T) {
	defer func(n int) { checkpointBlobs = n }(checkpointBlobs)
	checkpointBlobs = 10
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
	var ids []id.ID
	for range 60 {
		b := make([]byte, 100<<10) // random: ten or so to a 1 MiB pack
		rand.Read(b)
		bid := r.Codec().IDFor(id.DataBlob, b)
		ids = append(ids, bid)
		if _, err := s.Save(id.DataBlob, bid, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	segs := 0
	if err := be.List(ctx, "index/", func(fi backends.Info) error {
		if strings.HasPrefix(fi.Name, "index/") {
			segs++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if segs < 4 {
		t.Errorf("%d index segments for 60 blobs in packs of about 10, want a checkpoint every 10 blobs or so", segs)
	}
	s.mu.Lock()
	pending := len(s.pending)
	s.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d blobs still pending after Flush", pending)
	}
	for _, bid := range ids {
		if _, ok, err := r.Index().Lookup(bid); err != nil || !ok {
			t.Fatalf("blob %s not indexed after Flush (%v)", bid.Short(), err)
		}
	}
}
