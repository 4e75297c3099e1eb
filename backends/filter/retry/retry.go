// Package retry is a filter that repeats a backend's failed calls, with
// exponential backoff and jitter, as long as the failure may be transient.
// Errors that repeating cannot cure (backends.Permanent: not found, exists,
// out of range, invalid name, access denied, a done context) return at
// once. When the tries run out the error says how many were made.
//
// Create is not idempotent: a Create that finds the object existing on a
// later try reports success if the object holds the data it was given (an
// earlier try stored it and the answer was lost), ErrExists otherwise. A
// Remove whose earlier try removed the object but lost the answer reports
// ErrNotFound, which is the truth by then. List reports each object once
// even when it has to start over.
package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var (
	_ backends.Backend    = (*Backend)(nil)
	_ backends.LoaderInto = (*Backend)(nil)
	_ backends.Unwrapper  = (*Backend)(nil)
)

// Defaults for Options' zero fields.
const (
	DefaultAttempts = 12
	DefaultMinDelay = 250 * time.Millisecond
	DefaultMaxDelay = 30 * time.Second
)

// Options tune the backoff. The zero value takes the defaults above: twelve
// tries over one and a quarter to two and a half minutes (the waits are
// 0.25 s, 0.5 s, 1 s... then 30 s four times, each up to half shorter), so
// that a server restarting or a network failing over for a minute does not
// fail a backup. Six tries gave up after about eight seconds.
type Options struct {
	// Attempts is how many times a call is tried in all (1: no retry).
	Attempts int
	// The wait before the n-th retry is MinDelay·2ⁿ⁻¹, at most MaxDelay,
	// of which a random part, up to half, is left out.
	MinDelay, MaxDelay time.Duration
	// OnRetry, if set, hears of every failure that is retried, before the
	// wait: a place to log.
	OnRetry func(op, name string, attempt int, err error, wait time.Duration)
	// LastTry, if set, may end the tries before Attempts: it is asked
	// after each failed try, and true makes that try the last, reported
	// as when the tries run out (ErrGaveUp, with how many were made).
	LastTry func(attempt int, err error) bool
}

// Backend retries the calls of the backend it wraps.
type Backend struct {
	backends.Backend
	opts Options
}

// New wraps b.
func New(b backends.Backend, opts Options) *Backend {
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.MinDelay <= 0 {
		opts.MinDelay = DefaultMinDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	return &Backend{Backend: b, opts: opts}
}

// Unwrap returns the wrapped backend.
func (r *Backend) Unwrap() backends.Backend { return r.Backend }

// ErrGaveUp is wrapped, together with the last failure, by the error of a
// call whose tries all failed.
var ErrGaveUp = errors.New("gave up")

// errStop from a try's function ends the tries; the caller knows why.
var errStop = errors.New("stop retrying")

// Do calls fn as a Backend with opts calls a backend's method: until it
// succeeds, fails permanently, or the tries or ctx run out. op and name
// name the call in OnRetry's notices and in the error of the last try.
// It is for calls that come before there is a backend to wrap, such as
// the first request of opening one.
func Do(ctx context.Context, opts Options, op, name string, fn func(attempt int) error) error {
	return New(nil, opts).do(ctx, op, name, fn)
}

// do calls fn until it succeeds, fails permanently, or the tries or ctx run
// out. fn is told the try's number, from 1.
func (r *Backend) do(ctx context.Context, op, name string, fn func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil || backends.Permanent(err) || errors.Is(err, errStop) {
			return err
		}
		if attempt >= r.opts.Attempts || r.opts.LastTry != nil && r.opts.LastTry(attempt, err) {
			return fmt.Errorf("%s %s: %w after %d attempts: %w", op, name, ErrGaveUp, attempt, err)
		}
		wait := r.delay(attempt)
		if r.opts.OnRetry != nil {
			r.opts.OnRetry(op, name, attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w (while waiting to retry after %d attempts; last error: %v)", op, name, ctx.Err(), attempt, err)
		case <-t.C:
		}
	}
}

// delay is the wait after the attempt-th failure: exponential, capped, with
// up to half of it randomly dropped so that clients failing together do not
// come back together.
func (r *Backend) delay(attempt int) time.Duration {
	d := r.opts.MaxDelay
	if attempt < 32 {
		d = min(r.opts.MinDelay<<(attempt-1), r.opts.MaxDelay)
	}
	return d - time.Duration(rand.Int64N(int64(d/2)+1))
}

func (r *Backend) Save(ctx context.Context, name string, data []byte) error {
	return r.do(ctx, "save", name, func(int) error { return r.Backend.Save(ctx, name, data) })
}

// Create treats ErrExists on a retry as success when the stored object is
// the data given: an earlier try stored it.
func (r *Backend) Create(ctx context.Context, name string, data []byte) error {
	return r.do(ctx, "create", name, func(attempt int) error {
		err := r.Backend.Create(ctx, name, data)
		if attempt > 1 && errors.Is(err, backends.ErrExists) {
			if got, lerr := r.Backend.Load(ctx, name, 0, -1); lerr == nil && bytes.Equal(got, data) {
				return nil
			}
		}
		return err
	})
}

func (r *Backend) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	var data []byte
	err := r.do(ctx, "load", name, func(int) error {
		var err error
		data, err = r.Backend.Load(ctx, name, offset, length)
		return err
	})
	return data, err
}

func (r *Backend) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	return r.do(ctx, "load", name, func(int) error {
		return backends.LoadInto(ctx, r.Backend, name, offset, buf)
	})
}

func (r *Backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	var fi backends.Info
	err := r.do(ctx, "stat", name, func(int) error {
		var err error
		fi, err = r.Backend.Stat(ctx, name)
		return err
	})
	return fi, err
}

// List starts over after a failure, skipping the objects already reported.
// An error from fn is returned at once.
func (r *Backend) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	seen := make(map[string]bool)
	var fnErr error
	err := r.do(ctx, "list", prefix, func(int) error {
		err := r.Backend.List(ctx, prefix, func(fi backends.Info) error {
			if seen[fi.Name] {
				return nil
			}
			seen[fi.Name] = true
			if err := fn(fi); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
		if fnErr != nil {
			return errStop
		}
		return err
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

func (r *Backend) Remove(ctx context.Context, name string) error {
	return r.do(ctx, "remove", name, func(int) error { return r.Backend.Remove(ctx, name) })
}
