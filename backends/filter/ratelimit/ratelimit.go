// Package ratelimit is a filter that keeps a backend under a number of
// requests per second and bytes per second, for providers that throttle or
// links that are shared. Each limit is a token bucket holding one second's
// worth, so short bursts pass at once and longer runs are held to the rate.
//
// Every call is one request, and a listing one more per thousand objects
// (S3 lists a thousand keys per request). Saves count their data before
// they start, loads theirs once it has arrived (a load's length may be
// "to the end"), holding the answer back until it is paid for.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var (
	_ backends.Backend    = (*Backend)(nil)
	_ backends.LoaderInto = (*Backend)(nil)
	_ backends.Unwrapper  = (*Backend)(nil)
)

// Options set the limits; zero means no limit.
type Options struct {
	Requests float64 // requests per second
	Bytes    float64 // bytes per second, uploaded and downloaded together
}

// Backend limits the calls to the backend it wraps.
type Backend struct {
	backends.Backend
	requests, bytes *bucket // nil: no limit
}

// New wraps b.
func New(b backends.Backend, opts Options) *Backend {
	return newWithClock(b, opts, time.Now)
}

func newWithClock(b backends.Backend, opts Options, now func() time.Time) *Backend {
	l := &Backend{Backend: b}
	if opts.Requests > 0 {
		l.requests = newBucket(opts.Requests, now)
	}
	if opts.Bytes > 0 {
		l.bytes = newBucket(opts.Bytes, now)
	}
	return l
}

// Unwrap returns the wrapped backend.
func (l *Backend) Unwrap() backends.Backend { return l.Backend }

// wait takes a request and n bytes.
func (l *Backend) wait(ctx context.Context, op, name string, n int64) error {
	if err := l.requests.wait(ctx, 1); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := l.bytes.wait(ctx, float64(n)); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	return nil
}

func (l *Backend) Save(ctx context.Context, name string, data []byte) error {
	if err := l.wait(ctx, "save", name, int64(len(data))); err != nil {
		return err
	}
	return l.Backend.Save(ctx, name, data)
}

func (l *Backend) Create(ctx context.Context, name string, data []byte) error {
	if err := l.wait(ctx, "create", name, int64(len(data))); err != nil {
		return err
	}
	return l.Backend.Create(ctx, name, data)
}

func (l *Backend) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	if err := l.wait(ctx, "load", name, 0); err != nil {
		return nil, err
	}
	data, err := l.Backend.Load(ctx, name, offset, length)
	if err != nil {
		return nil, err
	}
	if err := l.bytes.wait(ctx, float64(len(data))); err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return data, nil
}

func (l *Backend) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	if err := l.wait(ctx, "load", name, 0); err != nil {
		return err
	}
	if err := backends.LoadInto(ctx, l.Backend, name, offset, buf); err != nil {
		return err
	}
	if err := l.bytes.wait(ctx, float64(len(buf))); err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

func (l *Backend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := l.wait(ctx, "stat", name, 0); err != nil {
		return backends.Info{}, err
	}
	return l.Backend.Stat(ctx, name)
}

func (l *Backend) Remove(ctx context.Context, name string) error {
	if err := l.wait(ctx, "remove", name, 0); err != nil {
		return err
	}
	return l.Backend.Remove(ctx, name)
}

// List takes a request to start and another after each thousand objects,
// before reporting the next.
func (l *Backend) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if err := l.wait(ctx, "list", prefix, 0); err != nil {
		return err
	}
	n := 0
	return l.Backend.List(ctx, prefix, func(fi backends.Info) error {
		if n++; n%1000 == 0 {
			if err := l.requests.wait(ctx, 1); err != nil {
				return fmt.Errorf("list %s: %w", prefix, err)
			}
		}
		return fn(fi)
	})
}
