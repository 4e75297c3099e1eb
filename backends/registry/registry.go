// Package registry opens a backend from a location string such as
// "/srv/backup", "local:/srv/backup" or "s3:https://host/bucket/prefix",
// and wraps it in the filters the caller asks for. The schemes it knows are
// listed in one table in this file; adding a backend means adding a row.
//
// It is a package of its own because it imports every backend, and the
// backends import package backends.
package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/backends/s3"
)

// Options tune the backend a location opens and the filters wrapped around
// it. The zero value opens the bare backend with its defaults.
type Options struct {
	// S3 is for "s3:" locations: connections, addressing style,
	// credentials (default: the AWS_* variables).
	S3 s3.Options
	// Filters are wrapped around the backend, whatever its scheme.
	Filters Filters
}

// scheme opens or creates a backend from the location without "scheme:".
type scheme struct {
	name   string
	open   func(ctx context.Context, rest string, opts Options) (backends.Backend, error)
	create func(ctx context.Context, rest string, opts Options) (backends.Backend, error)
}

// schemes is the table of backends. A location without a scheme is local.
var schemes = []scheme{
	{
		name: "local",
		open: func(_ context.Context, dir string, _ Options) (backends.Backend, error) {
			return local.Open(dir)
		},
		create: func(_ context.Context, dir string, _ Options) (backends.Backend, error) {
			return local.Create(dir)
		},
	},
	{
		// s3:http(s)://host[:port]/bucket[/prefix], or restic's
		// s3:host[:port]/bucket[/prefix] for https; Create makes the bucket.
		name: "s3",
		open: func(ctx context.Context, url string, opts Options) (backends.Backend, error) {
			return s3.Open(ctx, url, s3Options(url, opts))
		},
		create: func(ctx context.Context, url string, opts Options) (backends.Backend, error) {
			return s3.Create(ctx, url, s3Options(url, opts))
		},
	},
}

// Open opens the backend of an existing repository at location, with the
// default options.
func Open(location string) (backends.Backend, error) {
	return OpenWith(context.Background(), location, Options{})
}

// Create opens the backend at location, first creating its storage (a
// folder, a bucket) when the scheme has a notion of that and it is missing.
func Create(location string) (backends.Backend, error) {
	return CreateWith(context.Background(), location, Options{})
}

// OpenWith is Open with options; ctx bounds the connection's checks.
func OpenWith(ctx context.Context, location string, opts Options) (backends.Backend, error) {
	s, rest, err := parse(location)
	if err != nil {
		return nil, err
	}
	b, err := s.open(ctx, rest, opts)
	if err != nil {
		return nil, err
	}
	return wrapOrClose(b, opts.Filters)
}

// CreateWith is Create with options.
func CreateWith(ctx context.Context, location string, opts Options) (backends.Backend, error) {
	s, rest, err := parse(location)
	if err != nil {
		return nil, err
	}
	b, err := s.create(ctx, rest, opts)
	if err != nil {
		return nil, err
	}
	return wrapOrClose(b, opts.Filters)
}

func wrapOrClose(b backends.Backend, f Filters) (backends.Backend, error) {
	w, err := Wrap(b, f)
	if err != nil {
		b.Close()
		return nil, err
	}
	return w, nil
}

// Schemes returns the names of the known schemes.
func Schemes() []string {
	names := make([]string, len(schemes))
	for i, s := range schemes {
		names[i] = s.name
	}
	return names
}

// parse splits location into its scheme and the rest. A location that
// starts with "/" or ".", or has no "scheme:" in front, is a local path.
func parse(location string) (scheme, string, error) {
	if location == "" {
		return scheme{}, "", fmt.Errorf("empty repository location")
	}
	name, rest, found := strings.Cut(location, ":")
	if !found || strings.HasPrefix(location, "/") || strings.HasPrefix(location, ".") || !isScheme(name) {
		name, rest = "local", location
	}
	i := slices.IndexFunc(schemes, func(s scheme) bool { return s.name == name })
	if i < 0 {
		return scheme{}, "", fmt.Errorf("repository location %q: unknown scheme %q (known: %s; write ./%s for a local folder)",
			location, name, strings.Join(Schemes(), ", "), location)
	}
	if rest == "" {
		return scheme{}, "", fmt.Errorf("repository location %q: nothing after %q", location, name+":")
	}
	return schemes[i], rest, nil
}

// isScheme reports whether s looks like a URL scheme (RFC 3986): a letter
// followed by letters, digits, "+", "-" or ".".
func isScheme(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')
	})
}

// OpenUnreachableAttempts is how many times, at most, the first request of
// opening an S3 repository is tried while the connection is refused or the
// host's name does not exist: six, over about eight seconds, so that a
// mistyped or dead endpoint is reported soon, though the calls made once
// the repository is open ride out a longer outage (retry.DefaultAttempts).
const OpenUnreachableAttempts = 6

// s3Options are opts.S3 with, when the retry filter is asked for and the
// caller set no OpenRetry, the filter's tries and backoff for the first
// request of opening: it comes before the filter wraps the backend, yet a
// server that throttles it is as passing a failure as for any later call.
// Nothing answering at all stops it after OpenUnreachableAttempts.
func s3Options(url string, opts Options) s3.Options {
	o := opts.S3
	if r := opts.Filters.Retry; r != nil && o.OpenRetry == nil {
		ro := *r
		lastTry := ro.LastTry
		ro.LastTry = func(attempt int, err error) bool {
			return attempt >= OpenUnreachableAttempts && s3.Unreachable(err) || lastTry != nil && lastTry(attempt, err)
		}
		o.OpenRetry = func(ctx context.Context, fn func() error) error {
			return retry.Do(ctx, ro, "open", "s3:"+url, func(int) error { return fn() })
		}
	}
	return o
}
