package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/id"
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
	// PIDNS names the holder's PID namespace: containers sharing a host
	// name do not share process IDs, so only a holder in our namespace is
	// judged by whether its PID still runs.
	PIDNS string `json:"pidns,omitempty"`
	// Boot is the holder's kernel boot ID: host names repeat across
	// machines (localhost, cloned VMs) and the initial PID namespace has
	// the same name on every Linux machine, so a PID is judged only for
	// a holder of this very boot.
	Boot      string `json:"boot,omitempty"`
	User      string `json:"user,omitempty"`
	Operation string `json:"operation,omitempty"`

	// Unreadable marks a lock object that could not be opened (another
	// key, damage, a newer format). Refreshed is then the object's mtime.
	Unreadable bool `json:"-"`
	// Stored is the object's modification time as the storage lists it:
	// its last write on the storage's clock (zero where the storage
	// gives none).
	Stored time.Time `json:"-"`
	// behind is how far the storage's clock runs behind this host's,
	// when that was read (see StaleReason).
	behind time.Duration
}

// Stale reports whether the lock is abandoned: not refreshed for StaleAfter,
// or held by a process of this host (this boot, this PID namespace) that
// no longer exists.
func (l *LockInfo) Stale(now time.Time) bool { return l.StaleReason(now) != "" }

// StaleReason says why the lock is stale, or "" when it is not (see Stale).
//
// A lease has expired only when both clocks say so: the holder's
// (Refreshed, compared with now) and the storage's (Stored, compared with
// the storage's own time when it was read, else with now). A holder whose
// clock runs half an hour behind, or a host whose clock runs ahead, would
// otherwise take a live lock for an abandoned one and remove it, and a
// prune could then delete what a running ingest is writing. A dead holder
// whose clock ran ahead keeps its lock that much longer: unlock
// --remove-all is for that.
func (l *LockInfo) StaleReason(now time.Time) string {
	if now.Sub(l.Refreshed) > StaleAfter && (l.Stored.IsZero() || now.Sub(l.Stored)-l.behind > StaleAfter) {
		if l.Stored.IsZero() || l.Unreadable {
			return fmt.Sprintf("lease expired: not refreshed since %s", l.Refreshed.UTC().Format(time.RFC3339))
		}
		return fmt.Sprintf("lease expired: not refreshed since %s (its holder's clock), last written %s (the storage's)",
			l.Refreshed.UTC().Format(time.RFC3339), l.Stored.UTC().Format(time.RFC3339))
	}
	if l.Unreadable {
		return ""
	}
	if l.ofThisHost() {
		if err := syscall.Kill(l.PID, 0); errors.Is(err, syscall.ESRCH) {
			return fmt.Sprintf("its process %d on this host is gone", l.PID)
		}
	}
	return ""
}

// ofThisHost reports whether the holder's PID can be judged here: it was
// taken on this host, in this boot and this PID namespace.
func (l *LockInfo) ofThisHost() bool {
	h, _ := os.Hostname()
	return !l.Unreadable && h == l.Host && l.PID > 0 && l.Boot != "" && l.Boot == bootID() && l.PIDNS == pidNamespace()
}

// HeldHere reports whether the lock's holder is a process running on this
// host now: a lock that must not be removed, only waited for.
//
// A PID is reused once its process is gone: a process that started after
// the lock was taken is not its holder, whose lock is then judged as any
// other's. (Only this advice trusts the start time; StaleReason does not.)
func (l *LockInfo) HeldHere() bool {
	if !l.ofThisHost() {
		return false
	}
	err := syscall.Kill(l.PID, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if age, ok := processAge(l.PID); ok && age+pidAgeSlack < time.Since(l.Time) {
		return false
	}
	return true
}

// pidAgeSlack allows for the rounding of a process's start time and
// of the clocks it is compared with.
const pidAgeSlack = 2 * time.Second

// userHZ is the unit of the start times in /proc/PID/stat: USER_HZ, 100
// on every architecture Linux runs cairn on.
const userHZ = 100

// processAge is how long ago process pid started, from its start time in
// /proc/PID/stat (clock ticks since boot) and /proc/uptime, both on the
// boot clock; false where they cannot be read.
func processAge(pid int) (time.Duration, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces and ")": the
	// fields that count follow its last ")". The start time is the 22nd
	// field, the 20th after the name.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, false
	}
	uf := strings.Fields(string(up))
	if len(uf) == 0 {
		return 0, false
	}
	uptime, err := strconv.ParseFloat(uf[0], 64)
	if err != nil {
		return 0, false
	}
	age := time.Duration(uptime*float64(time.Second)) - time.Duration(ticks)*time.Second/userHZ
	if age < 0 {
		age = 0
	}
	return age, true
}

// StaleAt is when the lock becomes stale unless its holder refreshes it
// (or sooner, if its holder on this host dies), on this host's clock.
func (l *LockInfo) StaleAt() time.Time {
	at := l.Refreshed.Add(StaleAfter)
	if !l.Stored.IsZero() {
		if s := l.Stored.Add(l.behind + StaleAfter); s.After(at) {
			at = s
		}
	}
	return at
}

// pidNamespace names this process's PID namespace ("pid:[4026531836]"),
// or "" where that cannot be read.
func pidNamespace() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}

// bootID names this boot of this machine (Linux's random boot_id), or ""
// where that cannot be read: then no lock is judged by its PID.
func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
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
//
// # Lease
//
// The lease is held while the lock object has been rewritten successfully
// within the last LeaseGiveUp, measured on the wall clock (Options.Now):
// then no other host can have called it stale (StaleAfter). Once that
// fails the lease is lost for good, even if a later refresh succeeds: an
// exclusive locker (prune) may have run in the gap, so whatever the holder
// learnt about the repository before may be wrong. This covers a process
// that was stopped or a machine that slept, which no timer notices in
// time. SaveSnapshot refuses to commit while a lock of its Repository has
// lost its lease.
type Lock struct {
	r      *Repository
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	refreshMu sync.Mutex // one rewrite of the object at a time
	mu        sync.Mutex
	info      LockInfo
	lastOK    time.Time // Refreshed of the last successful write
	lost      bool
	unlocked  bool // under refreshMu: no rewrite may follow the removal
}

// LockUnwritable tells whether err, from Lock, says the storage refuses this
// user's writes (a read-only mount, a bucket the key may only read, a full
// disk or an exhausted quota): a command that only reads can then go on
// without a lock (cairn --no-lock).
func LockUnwritable(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, backends.ErrAccessDenied) ||
		errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Lock takes a shared (writers, readers) or exclusive (prune) lock. It fails
// with ErrLocked, naming the holder, when a live conflicting lock exists.
//
// The lock object is written first and the others are judged after: a
// lock written at the same time is then seen by one of the two lockers at
// least, and the modification time of our own object tells the storage's
// clock, on which the others' leases are judged too (LockInfo.StaleReason).
func (r *Repository) Lock(ctx context.Context, exclusive bool, operation string) (*Lock, error) {
	now := r.now().UTC()
	l := &Lock{r: r, name: "locks/" + randomID().String(), lastOK: now, info: newLockInfo(now, exclusive, operation)}
	if err := l.write(ctx, l.info); err != nil {
		return nil, err
	}
	if err := r.checkLocks(ctx, exclusive, l.name); err != nil {
		r.be.Remove(context.WithoutCancel(ctx), l.name)
		return nil, err
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.done = make(chan struct{})
	r.locksMu.Lock()
	if r.locks == nil {
		r.locks = map[*Lock]bool{}
	}
	r.locks[l] = true
	r.locksMu.Unlock()
	heldLocks.Store(l, struct{}{})
	go l.refresh()
	// Whatever a prune that finished before our lock changed, the local
	// index must know before this holder trusts it (to deduplicate
	// against it, say).
	if err := r.SyncIndex(l.ctx); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

// newLockInfo describes a lock this process takes at now.
func newLockInfo(now time.Time, exclusive bool, operation string) LockInfo {
	host, _ := os.Hostname()
	uname := ""
	if u, err := user.Current(); err == nil {
		uname = u.Username
	}
	return LockInfo{Time: now, Refreshed: now, Exclusive: exclusive, Host: host, PID: os.Getpid(), PIDNS: pidNamespace(), Boot: bootID(), User: uname, Operation: operation}
}

func (l *Lock) write(ctx context.Context, info LockInfo) error {
	b, _ := json.Marshal(&info)
	if err := l.r.be.Save(ctx, l.name, l.r.sealObject(kindLock, b)); err != nil {
		return fmt.Errorf("write lock %s: %w", l.name, err)
	}
	return nil
}

func (l *Lock) refresh() {
	t := time.NewTicker(LockRefresh)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			if err := l.Refresh(l.ctx); errors.Is(err, ErrLeaseLost) {
				return
			}
		}
	}
}

// Refresh rewrites the lock object with a new refresh time, as a
// background loop does every LockRefresh. It fails with ErrLeaseLost, and
// cancels Context, once the lease is lost (see Lock).
func (l *Lock) Refresh(ctx context.Context) error {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	if l.unlocked {
		return fmt.Errorf("refresh %s: %w", l.name, errUnlocked)
	}
	if err := l.Check(); err != nil {
		return err
	}
	l.mu.Lock()
	info := l.info
	l.mu.Unlock()
	info.Refreshed = l.r.now().UTC()
	if err := l.write(ctx, info); err != nil {
		if lerr := l.Check(); lerr != nil {
			return lerr
		}
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lost {
		l.info, l.lastOK = info, info.Refreshed
	}
	return nil
}

// Check reports whether the lease is still held: nil, or an error
// wrapping ErrLeaseLost. It reads only the clock. Call it right before
// an action that is safe only under the lock (committing a snapshot,
// deleting data).
func (l *Lock) Check() error {
	now := l.r.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.lost && now.Sub(l.lastOK) <= LeaseGiveUp {
		return nil
	}
	if !l.lost {
		l.lost = true
		l.cancel()
	}
	return fmt.Errorf("%w: %s was last refreshed at %s, more than %s before %s", ErrLeaseLost, l.name,
		l.lastOK.Local().Format(time.RFC3339), LeaseGiveUp, now.Local().Format(time.RFC3339))
}

// Exclusive reports whether the lock is an exclusive one.
func (l *Lock) Exclusive() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info.Exclusive
}

// StorageTime is the lock object's modification time as the storage
// reports it: the storage's clock at the lock's last successful write,
// which is at most LockRefresh ago unless the lease is lost.
func (l *Lock) StorageTime(ctx context.Context) (time.Time, error) {
	fi, err := l.r.be.Stat(ctx, l.name)
	if err != nil {
		return time.Time{}, fmt.Errorf("stat lock %s: %w", l.name, err)
	}
	return fi.ModTime, nil
}

// Context is cancelled when the lock's lease is lost.
func (l *Lock) Context() context.Context { return l.ctx }

// checkLeases fails when a lock held through r has lost its lease.
func (r *Repository) checkLeases() error {
	r.locksMu.Lock()
	defer r.locksMu.Unlock()
	for l := range r.locks {
		if err := l.Check(); err != nil {
			return err
		}
	}
	return nil
}

// errUnlocked: the lock was removed by Unlock.
var errUnlocked = errors.New("lock already unlocked")

// Unlock removes the lock.
func (l *Lock) Unlock() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		l.cancel()
		l.r.locksMu.Lock()
		delete(l.r.locks, l)
		l.r.locksMu.Unlock()
		heldLocks.Delete(l)
		// A rewrite in flight (cancelled above, but a storage may finish
		// it anyway) must land before the removal, not after: it would
		// leave behind a lock nobody holds, which stops every prune
		// until it is stale.
		l.refreshMu.Lock()
		l.unlocked = true
		l.refreshMu.Unlock()
		// Its removal need not be durable: a crash that undoes it
		// leaves the lock of a holder that is gone, as a crash before
		// it would have.
		err = l.r.be.Remove(backends.LazyRemoval(context.Background()), l.name)
		if errors.Is(err, backends.ErrNotFound) {
			err = nil
		}
		// What the operation added to the local index is now worth
		// sharing with the other processes of this host.
		if perr := l.r.PublishIndex(); perr != nil {
			l.r.logf("%v", perr)
		}
	})
	return err
}

// heldLocks are the locks of every Repository of this process that are
// not yet unlocked, for ReleaseHeldLocks.
var heldLocks sync.Map // *Lock -> struct{}

// ReleaseHeldLocks removes the objects of every lock this process still
// holds, without waiting for the operations under them to stop: it is for a
// process about to exit at once (a second Ctrl-C), so that its lock does
// not block others until it is stale. A refresh in flight may still land
// after the removal, leaving a lock that goes stale as a dead process's
// does. It returns when all are removed or ctx ends.
func ReleaseHeldLocks(ctx context.Context) {
	var wg sync.WaitGroup
	heldLocks.Range(func(k, _ any) bool {
		l := k.(*Lock)
		if l.refreshMu.TryLock() {
			l.unlocked = true // no rewrite after the removal
			l.refreshMu.Unlock()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.r.be.Remove(backends.LazyRemoval(ctx), l.name)
		}()
		return true
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// maxLockObject bounds a lock object's stored size: a lock is a few hundred
// bytes of JSON (a host name is at most 255), and a larger object is
// treated as an unreadable lock without being loaded.
const maxLockObject = 64 << 10

// Locks lists the lock objects with their plaintext. One that cannot be
// opened is listed as Unreadable, so that exclusive locking fails closed.
func (r *Repository) Locks(ctx context.Context) (map[string]*LockInfo, error) {
	var names []string
	mtimes := map[string]time.Time{}
	sizes := map[string]int64{}
	err := r.be.List(ctx, "locks/", func(fi backends.Info) error {
		// A lock is named by a random ID. Another object there is
		// another tool's, in a bucket (or folder) it shares with the
		// repository: neither a lock in the way of prune nor one for
		// unlock to delete.
		base := strings.TrimPrefix(fi.Name, "locks/")
		if lid, err := id.Parse(base); err != nil || lid.String() != base {
			return nil
		}
		names = append(names, fi.Name)
		mtimes[fi.Name] = fi.ModTime
		sizes[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	out := map[string]*LockInfo{}
	for _, n := range names {
		var li LockInfo
		if sizes[n] > maxLockObject {
			// No lock is that large: one written by someone else, or
			// damaged, that every command would otherwise load whole
			// into memory.
			li = LockInfo{Unreadable: true, Refreshed: mtimes[n], Stored: mtimes[n]}
			out[n] = &li
			continue
		}
		b, err := r.be.Load(ctx, n, 0, -1)
		if errors.Is(err, backends.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		p, err := r.openObject(kindLock, n, b)
		if err != nil || len(b) > maxLockObject || json.Unmarshal(p, &li) != nil {
			li = LockInfo{Unreadable: true, Refreshed: mtimes[n]}
		}
		li.Stored = mtimes[n]
		out[n] = &li
	}
	return out, nil
}

// LockedError is ErrLocked naming the locks in the way, each with its
// holder and when it becomes stale.
type LockedError struct {
	Now   time.Time
	Locks []*LockInfo // oldest first
}

func (e *LockedError) Error() string {
	parts := make([]string, len(e.Locks))
	for i, li := range e.Locks {
		at := li.StaleAt().UTC()
		when := at.Format("15:04 UTC")
		if y, m, d := at.Date(); y != e.Now.UTC().Year() || m != e.Now.UTC().Month() || d != e.Now.UTC().Day() {
			when = at.Format("2006-01-02 15:04 UTC")
		}
		parts[i] = fmt.Sprintf("%s, stale after %s unless refreshed", li, when)
	}
	return fmt.Sprintf("%v: %s", ErrLocked, strings.Join(parts, "; "))
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// LockEntry is one lock object: its name, its content, and why it is
// stale ("" for a live one).
type LockEntry struct {
	Name  string
	Info  *LockInfo
	Stale string
}

// removeLock deletes a lock object; one already gone (another process
// removed it first) is no error.
func (r *Repository) removeLock(ctx context.Context, name string) error {
	if err := r.be.Remove(ctx, name); err != nil && !errors.Is(err, backends.ErrNotFound) {
		return err // names the object already
	}
	return nil
}

// ownLock reports whether name is a lock held through r.
func (r *Repository) ownLock(name string) bool {
	r.locksMu.Lock()
	defer r.locksMu.Unlock()
	for l := range r.locks {
		if l.name == name {
			return true
		}
	}
	return false
}

// RemoveLocks removes the stale lock objects (see LockInfo.Stale), or
// with all every one but those held through r, and returns those it
// removed and those it kept, oldest first. Removing a live lock does not
// stop its holder, whose next refresh writes it again: all is for an
// operator who knows that nothing runs.
//
// To read the storage's clock it writes a shared lock object of its own
// for the while (see Lock), removed again before it returns; where that
// cannot be written, leases are judged on this host's clock alone.
func (r *Repository) RemoveLocks(ctx context.Context, all bool) (removed, kept []LockEntry, err error) {
	probe := &Lock{r: r, name: "locks/" + randomID().String()}
	if perr := probe.write(ctx, newLockInfo(r.now().UTC(), false, "unlock (reading the storage's clock)")); perr == nil {
		defer r.removeLock(context.WithoutCancel(ctx), probe.name)
	}
	locks, err := r.Locks(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := r.now()
	storageClock(locks, probe.name, now)
	delete(locks, probe.name)
	names := sortedLockNames(locks)
	for _, n := range names {
		e := LockEntry{Name: n, Info: locks[n], Stale: locks[n].StaleReason(now)}
		if r.ownLock(n) || (e.Stale == "" && !all) {
			kept = append(kept, e)
			continue
		}
		if err := r.removeLock(context.WithoutCancel(ctx), n); err != nil {
			return removed, kept, err
		}
		removed = append(removed, e)
	}
	return removed, kept, nil
}

// sortedLockNames orders lock names by the locks' age, oldest first.
func sortedLockNames(locks map[string]*LockInfo) []string {
	names := make([]string, 0, len(locks))
	for n := range locks {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := locks[names[i]], locks[names[j]]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return names[i] < names[j]
	})
	return names
}

// storageClock tells each lock how far the storage's clock runs behind
// this host's, from the modification time of ref, an object this process
// wrote just before listing them, compared with now, read after the
// listing. The time between the write and now only makes every lock look
// younger. Without ref's time, leases are judged on this host's clock.
func storageClock(locks map[string]*LockInfo, ref string, now time.Time) {
	li, ok := locks[ref]
	if !ok || li.Stored.IsZero() {
		return
	}
	behind := now.Sub(li.Stored)
	for _, l := range locks {
		l.behind = behind
	}
}

// checkLocks fails with a LockedError when a live lock conflicts with
// taking one (exclusive or not), own aside: own is the lock object just
// written. Stale lock objects it finds are removed, so that they do not
// pile up.
func (r *Repository) checkLocks(ctx context.Context, exclusive bool, own string) error {
	locks, err := r.Locks(ctx)
	if err != nil {
		return err
	}
	now := r.now()
	storageClock(locks, own, now)
	var held []*LockInfo
	for _, n := range sortedLockNames(locks) {
		li := locks[n]
		if n == own {
			continue
		}
		if why := li.StaleReason(now); why != "" {
			if err := r.removeLock(context.WithoutCancel(ctx), n); err != nil {
				r.logf("cannot remove stale lock: %v", err)
			} else {
				r.logf("removed stale lock %s: %s (%s)", n, li, why)
			}
			continue
		}
		// An unreadable lock might be anything: it stops an exclusive
		// locker, never a shared one.
		if exclusive || (li.Exclusive && !li.Unreadable) {
			held = append(held, li)
		}
	}
	if len(held) > 0 {
		return &LockedError{Now: now, Locks: held}
	}
	return nil
}
