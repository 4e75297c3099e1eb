// Package verify is a filter that checks every write: after Save or Create
// it asks the backend for the object and compares its size, and its
// checksum where the backend keeps one (backends.Checksummer, such as the
// CRC32C or MD5 ETag S3 keeps). A missing or different object is written again, after a short
// wait, up to Options.Attempts times. This guards against storage that
// loses or mangles a write it acknowledged, and against eventually
// consistent listings and reads right after a write. Two writers saving
// different data under one name at once would fail each other's checks;
// content-addressed names never do that.
//
// Checksums are asked of the backend this filter wraps directly; put it
// next to the storage backend, inside retry and rate-limiting filters.
package verify

import (
	"context"
	"errors"
	"fmt"
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
	DefaultAttempts = 3
	DefaultDelay    = 200 * time.Millisecond
)

// ErrMismatch is wrapped by the error of a write whose stored object still
// differs from the data after every attempt. It is not permanent: a retry
// filter around this one may try again later.
var ErrMismatch = errors.New("stored object differs from what was written")

// Options tune the checks; the zero value takes the defaults above.
type Options struct {
	// Attempts is how many writes are made in all before giving up.
	Attempts int
	// Delay is the wait before writing again, times the attempt's number.
	Delay time.Duration
}

// Backend verifies the writes to the backend it wraps.
type Backend struct {
	backends.Backend
	opts Options
}

// New wraps b.
func New(b backends.Backend, opts Options) *Backend {
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Delay <= 0 {
		opts.Delay = DefaultDelay
	}
	return &Backend{Backend: b, opts: opts}
}

// Unwrap returns the wrapped backend.
func (v *Backend) Unwrap() backends.Backend { return v.Backend }

func (v *Backend) Save(ctx context.Context, name string, data []byte) error {
	return v.write(ctx, "save", name, data, v.Backend.Save)
}

// saveSum is the save that reports the stored object's checksum, when the
// backend has one (backends.SumSaver): the check then compares what the
// storage says it holds with what it said it received, instead of hashing
// the data again.
func (v *Backend) saveSum(ctx context.Context, name string, data []byte) (string, error) {
	if ss, ok := v.Backend.(backends.SumSaver); ok {
		return ss.SaveSum(ctx, name, data)
	}
	return "", v.Backend.Save(ctx, name, data)
}

// Create verifies like Save. A Create that succeeded owns the object, so
// when it is then found different it is repaired with Save; when it is
// found missing, with Create again.
func (v *Backend) Create(ctx context.Context, name string, data []byte) error {
	return v.write(ctx, "create", name, data, v.Backend.Create)
}

// write calls first, then checks, and on a mismatch writes again.
func (v *Backend) write(ctx context.Context, op, name string, data []byte,
	first func(context.Context, string, []byte) error) error {
	useFirst := true // Create (or Save) as asked; after a mismatch, Save
	var why string
	for attempt := 1; attempt <= v.opts.Attempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(time.Duration(attempt-1) * v.opts.Delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%s %s: %w (verifying: %s)", op, name, ctx.Err(), why)
			case <-t.C:
			}
		}
		var saved string // the checksum the storage gave what it received, if it told
		var err error
		if useFirst && op == "create" {
			err = first(ctx, name, data)
		} else {
			saved, err = v.saveSum(ctx, name, data)
		}
		if err != nil {
			return err
		}
		var missing bool
		why, missing, err = v.check(ctx, name, data, saved)
		if err != nil {
			return fmt.Errorf("%s %s: verify: %w", op, name, err)
		}
		if why == "" {
			return nil
		}
		useFirst = missing
	}
	return fmt.Errorf("%s %s: %w after %d writes: %s", op, name, ErrMismatch, v.opts.Attempts, why)
}

// check compares the stored object with data, returning why they differ
// ("" if they do not) and whether the object is missing.
func (v *Backend) check(ctx context.Context, name string, data []byte, saved string) (why string, missing bool, err error) {
	var fi backends.Info
	var sum string
	cs, hasSum := v.Backend.(backends.Checksummer)
	if hasSum {
		fi, sum, err = cs.StatSum(ctx, name)
	} else {
		fi, err = v.Backend.Stat(ctx, name)
	}
	switch {
	case errors.Is(err, backends.ErrNotFound):
		return "the object is missing", true, nil
	case err != nil:
		return "", false, err
	case fi.Size != int64(len(data)):
		return fmt.Sprintf("stored size %d, written %d", fi.Size, len(data)), false, nil
	case hasSum && sum != "":
		want := saved
		if want == "" {
			want = cs.Sum(data)
		}
		if sum != want {
			return fmt.Sprintf("stored checksum %s, written %s", sum, want), false, nil
		}
	}
	return "", false, nil
}

// LoadInto offers the ability over any backend.
func (v *Backend) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	return backends.LoadInto(ctx, v.Backend, name, offset, buf)
}
