// Package fault is a filter that makes a backend misbehave on purpose, for
// tests: calls that fail, answers that are slow, reads that come back cut
// short or with a bit flipped, writes that report success and store
// nothing, and listings that lag behind writes. Which call misbehaves is
// drawn from a random source seeded by Options.Seed, so a failing test can
// be run again the same way (as far as goroutine scheduling allows).
//
// With every rate zero the filter changes nothing, and passes the backend
// conformance suite.
package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var (
	_ backends.Backend    = (*Backend)(nil)
	_ backends.LoaderInto = (*Backend)(nil)
	_ backends.Unwrapper  = (*Backend)(nil)
)

// ErrInjected is wrapped by every error this filter makes up. It is
// transient: a retry filter retries it.
var ErrInjected = errors.New("injected fault")

// Options say how often each fault happens; rates are fractions of the
// calls concerned, from 0 (never) to 1 (always).
type Options struct {
	Seed uint64

	// ErrorRate: calls of every kind fail before reaching the backend.
	ErrorRate float64
	// LateErrorRate: Save, Create and Remove take effect and then fail,
	// as when a connection drops before the answer arrives.
	LateErrorRate float64
	// Latency: each call first waits a random time up to this long.
	Latency time.Duration
	// TruncateRate: Load returns only a prefix of the bytes asked for,
	// without error; LoadInto fails with a short read.
	TruncateRate float64
	// FlipRate: a read comes back with one bit flipped.
	FlipRate float64
	// LostWriteRate: Save reports success and stores nothing.
	LostWriteRate float64
	// ListLag: List leaves out objects saved through this filter less
	// than ListLag ago, and still reports those removed less than
	// ListLag ago.
	ListLag time.Duration
}

// Counts tells how many faults of each kind were injected.
type Counts struct {
	Errors, LateErrors, Truncated, Flipped, LostWrites int
}

// Backend injects faults into the calls to the backend it wraps.
type Backend struct {
	backends.Backend

	mu      sync.Mutex
	opts    Options
	rng     *rand.Rand
	counts  Counts
	saved   map[string]time.Time     // for ListLag: when a name was saved
	removed map[string]removedObject // for ListLag: what a removed name was
}

type removedObject struct {
	info backends.Info
	at   time.Time
}

// New wraps b.
func New(b backends.Backend, opts Options) *Backend {
	f := &Backend{Backend: b, saved: make(map[string]time.Time), removed: make(map[string]removedObject)}
	f.Set(opts)
	return f
}

// Unwrap returns the wrapped backend.
func (f *Backend) Unwrap() backends.Backend { return f.Backend }

// Set changes the options from now on, restarting the random source from
// the new seed: a test can set a repository up cleanly and then turn the
// faults on.
func (f *Backend) Set(opts Options) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts = opts
	f.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
}

// Counts returns how many faults were injected so far.
func (f *Backend) Counts() Counts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}

// roll reports whether an event of the given rate happens, counting it in
// *count if so.
func (f *Backend) roll(rate func(Options) float64, count func(*Counts) *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := rate(f.opts)
	if r <= 0 || f.rng.Float64() >= r {
		return false
	}
	*count(&f.counts)++
	return true
}

// before runs ahead of every call: the latency, then maybe an error.
func (f *Backend) before(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	f.mu.Lock()
	var d time.Duration
	if f.opts.Latency > 0 {
		d = time.Duration(f.rng.Int64N(int64(f.opts.Latency) + 1))
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w", op, name, ctx.Err())
		case <-t.C:
		}
	}
	if f.roll(func(o Options) float64 { return o.ErrorRate }, func(c *Counts) *int { return &c.Errors }) {
		return fmt.Errorf("%s %s: %w: error before the call", op, name, ErrInjected)
	}
	return nil
}

// after may turn a successful write into an error.
func (f *Backend) after(op, name string, err error) error {
	if err == nil && f.roll(func(o Options) float64 { return o.LateErrorRate }, func(c *Counts) *int { return &c.LateErrors }) {
		return fmt.Errorf("%s %s: %w: error after the call took effect", op, name, ErrInjected)
	}
	return err
}

// wrote records a write for ListLag.
func (f *Backend) wrote(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opts.ListLag > 0 {
		f.saved[name] = time.Now()
		delete(f.removed, name)
	}
}

func (f *Backend) Save(ctx context.Context, name string, data []byte) error {
	if err := f.before(ctx, "save", name); err != nil {
		return err
	}
	if err := backends.CheckName(name); err == nil &&
		f.roll(func(o Options) float64 { return o.LostWriteRate }, func(c *Counts) *int { return &c.LostWrites }) {
		return nil
	}
	err := f.Backend.Save(ctx, name, data)
	if err == nil {
		f.wrote(name)
	}
	return f.after("save", name, err)
}

func (f *Backend) Create(ctx context.Context, name string, data []byte) error {
	if err := f.before(ctx, "create", name); err != nil {
		return err
	}
	err := f.Backend.Create(ctx, name, data)
	if err == nil {
		f.wrote(name)
	}
	return f.after("create", name, err)
}

func (f *Backend) Remove(ctx context.Context, name string) error {
	if err := f.before(ctx, "remove", name); err != nil {
		return err
	}
	var info backends.Info
	if f.lag() > 0 {
		info, _ = f.Backend.Stat(ctx, name)
	}
	err := f.Backend.Remove(ctx, name)
	if err == nil && f.lag() > 0 && info.Name != "" {
		f.mu.Lock()
		f.removed[name] = removedObject{info: info, at: time.Now()}
		delete(f.saved, name)
		f.mu.Unlock()
	}
	return f.after("remove", name, err)
}

func (f *Backend) lag() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opts.ListLag
}

func (f *Backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := f.before(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	return f.Backend.Stat(ctx, name)
}

func (f *Backend) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	if err := f.before(ctx, "load", name); err != nil {
		return nil, err
	}
	data, err := f.Backend.Load(ctx, name, offset, length)
	if err != nil || len(data) == 0 {
		return data, err
	}
	if f.roll(func(o Options) float64 { return o.TruncateRate }, func(c *Counts) *int { return &c.Truncated }) {
		data = data[:f.intN(len(data))]
	}
	f.maybeFlip(data)
	return data, nil
}

func (f *Backend) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	if err := f.before(ctx, "load", name); err != nil {
		return err
	}
	if err := backends.LoadInto(ctx, f.Backend, name, offset, buf); err != nil || len(buf) == 0 {
		return err
	}
	if f.roll(func(o Options) float64 { return o.TruncateRate }, func(c *Counts) *int { return &c.Truncated }) {
		n := f.intN(len(buf))
		return fmt.Errorf("load %s: %w: short read, %d of %d bytes", name, ErrInjected, n, len(buf))
	}
	f.maybeFlip(buf)
	return nil
}

func (f *Backend) intN(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.IntN(n)
}

// maybeFlip flips one random bit of data at FlipRate.
func (f *Backend) maybeFlip(data []byte) {
	if f.roll(func(o Options) float64 { return o.FlipRate }, func(c *Counts) *int { return &c.Flipped }) {
		bit := f.intN(len(data) * 8)
		data[bit/8] ^= 1 << (bit % 8)
	}
}

// List hides recent saves and shows recent removals when ListLag is set.
func (f *Backend) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if err := f.before(ctx, "list", prefix); err != nil {
		return err
	}
	f.mu.Lock()
	lag := f.opts.ListLag
	var ghosts []backends.Info
	now := time.Now()
	for name, r := range f.removed {
		if now.Sub(r.at) >= lag {
			delete(f.removed, name)
		} else if strings.HasPrefix(name, prefix) {
			ghosts = append(ghosts, r.info)
		}
	}
	f.mu.Unlock()
	err := f.Backend.List(ctx, prefix, func(fi backends.Info) error {
		if lag > 0 {
			f.mu.Lock()
			at, ok := f.saved[fi.Name]
			if ok && now.Sub(at) >= lag {
				delete(f.saved, fi.Name)
				ok = false
			}
			f.mu.Unlock()
			if ok {
				return nil
			}
		}
		return fn(fi)
	})
	if err != nil {
		return err
	}
	for _, fi := range ghosts {
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}
