package repo

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
)

// gatedLockSaves holds back the first armed Save of a lock object until
// release is closed, as a slow storage holds a refresh's rewrite.
type gatedLockSaves struct {
	backends.Backend
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedLockSaves) Save(ctx context.Context, name string, data []byte) error {
	g.mu.Lock()
	hold := g.armed && strings.HasPrefix(name, "locks/")
	if hold {
		g.armed = false
	}
	g.mu.Unlock()
	if hold {
		close(g.entered)
		<-g.release
	}
	// Like a local file system, the write in flight completes whatever
	// became of its context.
	return g.Backend.Save(context.WithoutCancel(ctx), name, data)
}

// A refresh whose rewrite of the lock object was in flight when the holder
// unlocked must not leave the object behind: another host would find a
// lock nobody holds, and its prune would wait for it to go stale.
func TestUnlockDuringRefreshLeavesNoLock(t *testing.T) {
	ctx := context.Background()
	g := &gatedLockSaves{Backend: mem.New(), entered: make(chan struct{}), release: make(chan struct{})}
	opt := func() Options {
		return Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF}
	}
	if err := Init(ctx, g, opt()); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, g, opt())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	refreshed := make(chan error, 1)
	go func() { refreshed <- l.Refresh(l.Context()) }()
	<-g.entered
	unlocked := make(chan error, 1)
	go func() { unlocked <- l.Unlock() }()
	// Give the unlock time to finish ahead of the rewrite, if it does not
	// wait for it.
	select {
	case err := <-unlocked:
		unlocked <- err
	case <-time.After(200 * time.Millisecond):
	}
	close(g.release)
	<-refreshed
	if err := <-unlocked; err != nil {
		t.Fatal(err)
	}
	locks, err := r.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) != 0 {
		for n, li := range locks {
			t.Errorf("lock object %s left behind after Unlock: %s", n, li)
		}
	}
	// Nor may a refresh after the unlock write it again.
	if err := l.Refresh(ctx); err == nil {
		t.Error("refresh of an unlocked lock succeeded")
	}
	if locks, _ := r.Locks(ctx); len(locks) != 0 {
		t.Errorf("a refresh after Unlock wrote the lock object again (%d locks)", len(locks))
	}
}

// lazyRemoves records, for each object removed, whether the removal was
// asked to be lazy (backends.LazyRemoval).
type lazyRemoves struct {
	backends.Backend
	mu   sync.Mutex
	lazy map[string]bool
}

func (b *lazyRemoves) Remove(ctx context.Context, name string) error {
	b.mu.Lock()
	b.lazy[name] = backends.IsLazyRemoval(ctx)
	b.mu.Unlock()
	return b.Backend.Remove(ctx, name)
}

// A process removes its own lock without waiting for the removal to be
// durable (a crash that undoes it leaves a lock of a holder that is gone);
// a local folder would otherwise be synced at the end of every command.
func TestUnlockRemovesLazily(t *testing.T) {
	ctx := context.Background()
	b := &lazyRemoves{Backend: mem.New(), lazy: map[string]bool{}}
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF}
	if err := Init(ctx, b, opt); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, b, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, exclusive := range []bool{false, true} {
		l, err := r.Lock(ctx, exclusive, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatal(err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lazy) != 2 {
		t.Fatalf("removed %v, want the two locks", b.lazy)
	}
	for name, lazy := range b.lazy {
		if !strings.HasPrefix(name, "locks/") || !lazy {
			t.Errorf("%s removed lazily: %v; want only locks, each lazily", name, lazy)
		}
	}
}
