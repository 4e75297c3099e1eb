package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

// Lock timing. A lock whose holder has not refreshed it for StaleAfter is
// considered abandoned. A holder that cannot refresh for LeaseGiveUp stops
// its operation, well before others would call its lock stale.
const (
	LockRefresh = 5 * time.Minute
	StaleAfter  = 30 * time.Minute
	LeaseGiveUp = 20 * time.Minute
)

// LockInfo is the plaintext of a lock object.
type LockInfo struct {
	Time      time.Time `json:"time"`
	Refreshed time.Time `json:"refreshed"`
	Exclusive bool      `json:"exclusive"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	User      string    `json:"user,omitempty"`
	Operation string    `json:"operation,omitempty"`

	// Unreadable marks a lock object that could not be opened (another
	// key, damage, a newer format). Refreshed is then the object's mtime.
	Unreadable bool `json:"-"`
}

// Stale reports whether the lock is abandoned: not refreshed for StaleAfter,
// or held by a process of this host that no longer exists.
func (l *LockInfo) Stale(now time.Time) bool {
	if now.Sub(l.Refreshed) > StaleAfter {
		return true
	}
	if l.Unreadable {
		return false
	}
	if h, _ := os.Hostname(); h == l.Host && l.PID > 0 {
		if err := syscall.Kill(l.PID, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
	}
	return false
}

func (l *LockInfo) String() string {
	if l.Unreadable {
		return fmt.Sprintf("unreadable lock object last written %s", l.Refreshed.Local().Format(time.RFC3339))
	}
	kind := "shared"
	if l.Exclusive {
		kind = "exclusive"
	}
	return fmt.Sprintf("%s lock by %s on %s (pid %d, %s) since %s, refreshed %s", kind, l.User, l.Host, l.PID, l.Operation,
		l.Time.Local().Format(time.RFC3339), l.Refreshed.Local().Format(time.RFC3339))
}

// Lock is a held lock. Its context is cancelled when the lease can no
// longer be refreshed, so the operation stops before it could be unsafe.
type Lock struct {
	r      *Repository
	name   string
	info   LockInfo
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Lock takes a shared (writers, readers) or exclusive (prune) lock. It fails
// with ErrLocked, naming the holder, when a live conflicting lock exists.
func (r *Repository) Lock(ctx context.Context, exclusive bool, operation string) (*Lock, error) {
	if err := r.checkLocks(ctx, exclusive, ""); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	uname := ""
	if u, err := user.Current(); err == nil {
		uname = u.Username
	}
	now := time.Now().UTC()
	l := &Lock{r: r, name: "locks/" + randomID().String(), info: LockInfo{Time: now, Refreshed: now, Exclusive: exclusive, Host: host, PID: os.Getpid(), User: uname, Operation: operation}}
	if err := l.write(ctx); err != nil {
		return nil, err
	}
	// Another process may have locked between our check and our write:
	// look again now that ours is visible, and back off if we conflict.
	if err := r.checkLocks(ctx, exclusive, l.name); err != nil {
		r.be.Remove(context.WithoutCancel(ctx), l.name)
		return nil, err
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	go l.refresh()
	return l, nil
}

func (l *Lock) write(ctx context.Context) error {
	b, _ := json.Marshal(&l.info)
	if err := l.r.be.Save(ctx, l.name, l.r.sealObject(kindLock, b)); err != nil {
		return fmt.Errorf("write lock %s: %w", l.name, err)
	}
	return nil
}

func (l *Lock) refresh() {
	t := time.NewTicker(LockRefresh)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			l.info.Refreshed = time.Now().UTC()
			if err := l.write(l.ctx); err == nil {
				last = time.Now()
			} else if time.Since(last) > LeaseGiveUp {
				l.cancel()
				return
			}
		}
	}
}

// Context is cancelled when the lock's lease is lost.
func (l *Lock) Context() context.Context { return l.ctx }

// Unlock removes the lock.
func (l *Lock) Unlock() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.cancel()
		err = l.r.be.Remove(context.Background(), l.name)
		if errors.Is(err, backends.ErrNotFound) {
			err = nil
		}
	})
	return err
}

// Locks lists the lock objects with their plaintext. One that cannot be
// opened is listed as Unreadable, so that exclusive locking fails closed.
func (r *Repository) Locks(ctx context.Context) (map[string]*LockInfo, error) {
	var names []string
	mtimes := map[string]time.Time{}
	err := r.be.List(ctx, "locks/", func(fi backends.Info) error {
		names = append(names, fi.Name)
		mtimes[fi.Name] = fi.ModTime
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	out := map[string]*LockInfo{}
	for _, n := range names {
		b, err := r.be.Load(ctx, n, 0, -1)
		if errors.Is(err, backends.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		var li LockInfo
		p, err := r.openObject(kindLock, n, b)
		if err != nil || json.Unmarshal(p, &li) != nil {
			li = LockInfo{Unreadable: true, Refreshed: mtimes[n]}
		}
		out[n] = &li
	}
	return out, nil
}

func (r *Repository) checkLocks(ctx context.Context, exclusive bool, own string) error {
	locks, err := r.Locks(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	var held []string
	for n, li := range locks {
		if n == own || li.Stale(now) {
			continue
		}
		// An unreadable lock might be anything: it stops an exclusive
		// locker, never a shared one.
		if exclusive || (li.Exclusive && !li.Unreadable) {
			held = append(held, li.String())
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("%w: %s", ErrLocked, strings.Join(held, "; "))
	}
	return nil
}
