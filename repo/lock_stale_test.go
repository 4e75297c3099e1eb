package repo

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/mem"
)

// A lock of another host whose holder died is stale once its lease
// expires: RemoveLocks removes it then, not before; with all it removes
// live ones too, never those held through the repository itself.
func TestRemoveLocks(t *testing.T) {
	ctx := context.Background()
	clk, r, other := openTwo(t)
	t0 := clk.now()
	dead := other.TestWriteLock(t, LockInfo{Time: t0, Refreshed: t0, Host: "otherhost", PID: 4242, User: "u", Operation: "ingest"})
	removed, kept, err := r.RemoveLocks(ctx, false)
	if err != nil || len(removed) != 0 || len(kept) != 1 || kept[0].Name != dead || kept[0].Stale != "" {
		t.Fatalf("a live foreign lock: removed %v, kept %v, %v", removed, kept, err)
	}
	clk.advance(StaleAfter + time.Second)
	own, err := r.Lock(ctx, false, "ls")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Unlock()
	// r's own Lock already removed the stale one (see TestLockRemovesStale):
	// a holder writes one again and dies, and half an hour goes by while
	// r refreshes its own.
	t1 := clk.now()
	dead = other.TestWriteLock(t, LockInfo{Time: t1, Refreshed: t1, Host: "otherhost", PID: 4242, User: "u", Operation: "ingest"})
	for range 2 {
		clk.advance(StaleAfter/2 + time.Second)
		if err := own.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	live := other.TestWriteLock(t, LockInfo{Time: clk.now(), Refreshed: clk.now(), Exclusive: true, Host: "otherhost", PID: 4343, Operation: "prune"})
	removed, kept, err = other.RemoveLocks(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Name != dead || !strings.Contains(removed[0].Stale, "lease expired") {
		t.Fatalf("removed %+v, want only the expired %s", removed, dead)
	}
	if len(kept) != 2 {
		t.Fatalf("kept %+v, want the live two", kept)
	}
	// all: every lock but r's own.
	removed, kept, err = r.RemoveLocks(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].Name != live || removed[0].Stale != "" {
		t.Fatalf("all removed %+v, want %s", removed, live)
	}
	if len(kept) != 1 || kept[0].Name != own.name {
		t.Fatalf("all kept %+v, want r's own lock", kept)
	}
	if err := own.Check(); err != nil {
		t.Fatal(err)
	}
	// Removers racing: a lock already gone is no error.
	if err := r.removeLock(ctx, dead); err != nil {
		t.Fatalf("removing a removed lock: %v", err)
	}
}

// A lock attempt removes the stale lock objects it finds, the live ones
// stay, and ErrLocked names each lock in the way with when it becomes
// stale.
func TestLockRemovesStale(t *testing.T) {
	ctx := context.Background()
	clk, r, other := openTwo(t)
	t0 := clk.now()
	old := other.TestWriteLock(t, LockInfo{Time: t0, Refreshed: t0, Host: "otherhost", PID: 4242, Operation: "ingest"})
	clk.advance(StaleAfter + time.Minute)
	now := clk.now()
	live := other.TestWriteLock(t, LockInfo{Time: now, Refreshed: now, Host: "otherhost2", PID: 12310, User: "root", Operation: "ls"})
	// A dead process of this host, in this PID namespace: stale at once.
	host, _ := os.Hostname()
	gone := other.TestWriteLock(t, LockInfo{Time: now, Refreshed: now, Host: host, PID: deadPID(t), PIDNS: pidNamespace(), Boot: bootID(), Operation: "ls"})

	_, err := r.Lock(ctx, true, "prune")
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("exclusive lock beside a live shared one: %v", err)
	}
	if len(le.Locks) != 1 || le.Locks[0].Host != "otherhost2" {
		t.Fatalf("locks in the way: %+v", le.Locks)
	}
	msg := err.Error()
	stale := now.Add(StaleAfter).UTC().Format("15:04")
	for _, want := range []string{"repository is locked: shared lock by root on otherhost2 (pid 12310, ls)", ", stale after " + stale + " UTC unless refreshed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	locks, err := r.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := locks[old]; ok {
		t.Errorf("the expired lock %s is still there", old)
	}
	if _, ok := locks[gone]; ok {
		t.Errorf("the lock %s of a dead local process is still there", gone)
	}
	if _, ok := locks[live]; !ok || len(locks) != 1 {
		t.Errorf("locks left: %v, want only %s", locks, live)
	}
}

// deadPID is the ID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("cannot start a process: %v", err)
	}
	p.Wait()
	return p.Pid
}

// A lock of this host, boot and PID namespace is judged by whether its
// PID names a process (kill(pid, 0)), never by anything that could call a
// live holder gone: a running process keeps its lock live, and so does a
// zombie (exited, not reaped) or another process that took the PID over,
// until the lease expires. Only a PID that names no process at all makes
// the lock stale at once.
func TestLockOfLiveOrZombieHolder(t *testing.T) {
	if bootID() == "" {
		t.Skip("no boot ID on this system")
	}
	host, _ := os.Hostname()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lock := func(pid int) *LockInfo {
		return &LockInfo{Time: now, Refreshed: now, Host: host, PID: pid, PIDNS: pidNamespace(), Boot: bootID()}
	}
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "60"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("cannot start a process: %v", err)
	}
	if why := lock(p.Pid).StaleReason(now); why != "" {
		t.Errorf("a running holder's lock is stale: %s", why)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not reaped yet: a zombie. Give the kernel a moment to make it one.
	time.Sleep(100 * time.Millisecond)
	if why := lock(p.Pid).StaleReason(now); why != "" {
		t.Errorf("a zombie holder's lock is stale at once: %s", why)
	}
	if why := lock(p.Pid).StaleReason(now.Add(StaleAfter + time.Second)); !strings.Contains(why, "lease expired") {
		t.Errorf("a zombie holder's lock after StaleAfter: %q", why)
	}
	p.Wait()
	if why := lock(p.Pid).StaleReason(now); !strings.Contains(why, "is gone") {
		t.Errorf("a reaped holder's lock: %q, want stale", why)
	}
}

// A lease is judged on the storage's clock as well as on the holder's:
// a holder whose clock runs an hour behind, seen from a host whose clock
// runs an hour ahead, still holds its lock until the storage has not seen
// it written for StaleAfter. Neither a locker nor unlock removes it
// before; both do after, and unlock leaves no object of its own behind.
func TestLockLeaseOnStorageClock(t *testing.T) {
	ctx := context.Background()
	storage := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	be := mem.NewWithClock(storage.now)
	skewed := func(d time.Duration) Options {
		return Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF,
			Now: func() time.Time { return storage.now().Add(d) }}
	}
	if err := Init(ctx, be, skewed(0)); err != nil {
		t.Fatal(err)
	}
	open := func(d time.Duration) *Repository {
		r, err := Open(ctx, be, skewed(d))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	behind, ahead := open(-time.Hour), open(time.Hour)
	held, err := behind.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	storage.advance(StaleAfter / 2)

	_, err = ahead.Lock(ctx, true, "prune")
	var le *LockedError
	if !errors.As(err, &le) || len(le.Locks) != 1 || le.Locks[0].Operation != "ingest" {
		t.Fatalf("exclusive lock beside a live shared one an hour behind: %v", err)
	}
	// Stale, on the locker's clock, when the storage's half hour is up.
	if want := storage.now().Add(time.Hour + StaleAfter/2); !le.Locks[0].StaleAt().Equal(want) {
		t.Fatalf("stale at %s, want %s", le.Locks[0].StaleAt(), want)
	}
	removed, kept, err := ahead.RemoveLocks(ctx, false)
	if err != nil || len(removed) != 0 || len(kept) != 1 || kept[0].Stale != "" {
		t.Fatalf("unlock beside a live lock an hour behind: removed %v, kept %v, %v", removed, kept, err)
	}
	if err := held.Check(); err != nil {
		t.Fatal(err)
	}

	// The holder dies (its refreshes stop): once the storage has not
	// seen its lock for StaleAfter, it is stale on every clock.
	held.once.Do(func() { close(held.done); held.cancel() })
	storage.advance(StaleAfter/2 + time.Second)
	removed, kept, err = ahead.RemoveLocks(ctx, false)
	if err != nil || len(removed) != 1 || len(kept) != 0 || !strings.Contains(removed[0].Stale, "the storage's") {
		t.Fatalf("unlock after the lease: removed %+v, kept %+v, %v", removed, kept, err)
	}
	locks, err := ahead.Locks(ctx)
	if err != nil || len(locks) != 0 {
		t.Fatalf("locks left: %v, %v", locks, err)
	}
	l, err := ahead.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
}
