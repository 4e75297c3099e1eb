package repo

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openTwo makes a repository on a fake clock and opens it twice, as two
// hosts with caches of their own.
func openTwo(t *testing.T) (*fakeClock, *Repository, *Repository) {
	t.Helper()
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	be := mem.NewWithClock(clk.now)
	opt := func() Options {
		return Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF, Now: clk.now}
	}
	if err := Init(ctx, be, opt()); err != nil {
		t.Fatal(err)
	}
	var rs [2]*Repository
	for i := range rs {
		r, err := Open(ctx, be, opt())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rs[i] = r
	}
	return clk, rs[0], rs[1]
}

func TestLeaseLostForGood(t *testing.T) {
	ctx := context.Background()
	clk, r, other := openTwo(t)
	l, err := r.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		clk.advance(LockRefresh)
		if err := l.Refresh(ctx); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	// The process stops; another host soon sees the lock as stale.
	clk.advance(StaleAfter + time.Minute)
	ol, err := other.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatalf("the stale lock still stops an exclusive locker: %v", err)
	}
	ol.Unlock()
	// Back again: every refresh and check fails from now on, even once
	// the lock object could be written.
	if err := l.Check(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("check: %v", err)
	}
	if err := l.Refresh(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("refresh: %v", err)
	}
	if l.Context().Err() == nil {
		t.Fatal("the lock's context is not cancelled")
	}
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: clk.now(), Host: "h"}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("snapshot saved with a lost lease: %v", err)
	}
	if _, err := r.SaveSegment(ctx, &Segment{}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("segment saved with a lost lease: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	// A new lock is a new lease.
	l2, err := r.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Unlock()
	if err := r.SaveSnapshot(ctx, &Snapshot{Time: clk.now(), Host: "h"}); err != nil {
		t.Fatal(err)
	}
}

// A refresh that fails now and then keeps the lease while one succeeds
// within LeaseGiveUp.
func TestLeaseSurvivesShortGaps(t *testing.T) {
	ctx := context.Background()
	clk, r, _ := openTwo(t)
	l, err := r.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	clk.advance(LeaseGiveUp)
	if err := l.Check(); err != nil {
		t.Fatalf("at exactly LeaseGiveUp: %v", err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	clk.advance(LeaseGiveUp + time.Second)
	if err := l.Check(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("after LeaseGiveUp: %v", err)
	}
}

// Taking a lock brings the local index up to date: a host that opened
// the repository before a prune must not trust what it read then.
func TestLockSyncsIndex(t *testing.T) {
	ctx := context.Background()
	_, r, other := openTwo(t)
	bid := id.ID{7}
	p := index.Pack{ID: id.ID{1}, Type: id.DataBlob, Blobs: []index.Blob{{ID: bid, Type: id.DataBlob, Pack: id.ID{1}, Offset: 0, Length: 50, RawLength: 9}}}
	if _, err := other.SaveSegment(ctx, &Segment{Packs: []index.Pack{p}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.LookupBlob(bid); ok {
		t.Fatal("known before syncing")
	}
	l, err := r.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if _, ok, _ := r.LookupBlob(bid); !ok {
		t.Fatal("the lock did not sync the local index")
	}
}
