package repo

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

// bigIndex lists and Stats every index segment as 8 GiB long, and counts
// the Stats of index segments.
type bigIndex struct {
	backends.Backend
	stats atomic.Int32
}

func (b *bigIndex) Stat(ctx context.Context, name string) (backends.Info, error) {
	fi, err := b.Backend.Stat(ctx, name)
	if strings.HasPrefix(name, "index/") {
		b.stats.Add(1)
		fi.Size = 8 << 30
	}
	return fi, err
}

func (b *bigIndex) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	return b.Backend.List(ctx, prefix, func(fi backends.Info) error {
		if strings.HasPrefix(fi.Name, "index/") {
			fi.Size = 8 << 30
		}
		return fn(fi)
	})
}

// Index segments are stored uncompressed, and cairn wrote an ingest's
// checkpoint as one segment however many blobs it named: one of more than
// 256 MiB (7 million blobs of a few bytes) is valid, and refusing it by
// its size would leave a repository whose index no longer loads. Segments
// have no read limit, so none is asked its size either (a HEAD request per
// segment on S3).
func TestLargeIndexSegmentRead(t *testing.T) {
	ctx := context.Background()
	be := &bigIndex{Backend: mem.New()}
	r := TestRepositoryOn(t, be)
	var p index.Pack
	p.ID[0], p.Type = 1, id.DataBlob
	p.Blobs = []index.Blob{{ID: id.ID{2}, Type: id.DataBlob, Pack: p.ID, Length: 42, RawLength: 1}}
	sid, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{p}})
	if err != nil {
		t.Fatal(err)
	}
	be.stats.Store(0)
	s, err := r.LoadSegment(ctx, sid)
	if err != nil {
		t.Fatalf("LoadSegment of a segment listed as 8 GiB: %v", err)
	}
	if len(s.Packs) != 1 || len(s.Packs[0].Blobs) != 1 {
		t.Fatalf("segment read back as %+v", s)
	}
	if n := be.stats.Load(); n != 0 {
		t.Errorf("reading a segment asked the storage its size %d times", n)
	}
}
