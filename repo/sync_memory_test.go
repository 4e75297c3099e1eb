package repo_test

import (
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// aheadOfIndex measures, at each load of an index segment, how many blobs
// the segments loaded so far name beyond those the local index has
// recorded: what a sync holds in memory.
type aheadOfIndex struct {
	backends.Backend
	r      *repo.Repository
	blobs  map[string]int // by object name
	mu     sync.Mutex
	on     bool
	loaded int
	max    int
}

func (b *aheadOfIndex) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if strings.HasPrefix(name, "index/") {
		b.mu.Lock()
		if b.on {
			b.loaded += b.blobs[name]
			infos, err := b.r.Index().SegmentInfos()
			if err != nil {
				b.mu.Unlock()
				return nil, err
			}
			recorded := 0
			for sid := range infos {
				recorded += b.blobs["index/"+sid.String()]
			}
			b.max = max(b.max, b.loaded-recorded)
		}
		b.mu.Unlock()
	}
	return b.Backend.Load(ctx, name, off, n)
}

func (b *aheadOfIndex) Unwrap() backends.Backend { return b.Backend }

// After a rebuild (a loaded segment became superseded) every segment is
// read again. They are recorded a batch of at most about 100,000 blobs at
// a time, and no more than the few read at once may be held beyond that:
// segments written by prune name up to 500,000 blobs each.
func TestSyncAfterRebuildHoldsFewSegments(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	const segments, perSegment = 12, 30_000
	be := &aheadOfIndex{Backend: f.Backend, blobs: map[string]int{}}
	var sids []id.ID
	for range segments {
		p := index.Pack{Type: id.DataBlob, Blobs: make([]index.Blob, perSegment)}
		rand.Read(p.ID[:])
		for i := range p.Blobs {
			rand.Read(p.Blobs[i].ID[:])
			p.Blobs[i].Type, p.Blobs[i].Pack, p.Blobs[i].Offset, p.Blobs[i].Length, p.Blobs[i].RawLength = id.DataBlob, p.ID, uint32(i), 1, 1
		}
		sid, err := f.Repo.SaveSegment(ctx, &repo.Segment{Packs: []index.Pack{p}})
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sid)
		be.blobs["index/"+sid.String()] = perSegment
	}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	be.r = r
	if err := r.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	// A segment superseding one already loaded makes the next sync
	// rebuild the local index from every segment.
	if _, err := f.Repo.SaveSegment(ctx, &repo.Segment{Supersedes: sids[:1]}); err != nil {
		t.Fatal(err)
	}
	be.on = true
	if err := r.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if be.loaded < (segments-1)*perSegment {
		t.Fatalf("the sync read %d blobs' segments again, want a rebuild", be.loaded)
	}
	// The batch not yet recorded, plus the segments read at once.
	t.Logf("at most %d blobs ahead", be.max)
	if limit := 100_000 + 4*perSegment; be.max > limit {
		t.Errorf("%d blobs read ahead of the local index, want at most %d", be.max, limit)
	}
}
