package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/filter/ratelimit"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/registry"
	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo"
)

// storageFlags tune how the repository's storage is reached: S3 options
// and the filters wrapped around any backend.
type storageFlags struct {
	connections  int
	virtualHost  bool
	retries      int
	verifyWrites bool
	limitRPS     float64
	limitBytes   string
	metaCache    bool
}

func (s *storageFlags) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.IntVar(&s.connections, "connections", 5, "uploads to S3 running at once")
	f.BoolVar(&s.virtualHost, "s3-virtual-host", false, "address the S3 bucket as a host name (bucket.host) instead of in the path")
	f.IntVar(&s.retries, "retries", retry.DefaultAttempts, fmt.Sprintf("tries in all for a storage call that fails for a passing reason, with backoff from 0.25 s doubling to 30 s: %d wait out 1.25-2.5 minutes (S3; 1: no retry; opening the repository gives up after %d when the connection is refused or the host name does not exist)",
		retry.DefaultAttempts, registry.OpenUnreachableAttempts))
	f.BoolVar(&s.verifyWrites, "verify-writes", true, "after each upload to S3, check the stored size and checksum, and upload again on a mismatch")
	f.Float64Var(&s.limitRPS, "limit-requests", 0, "at most this many storage requests per second (0: no limit)")
	f.StringVar(&s.limitBytes, "limit-bytes", "", "at most `size` bytes per second to and from storage, e.g. 20MiB (empty: no limit)")
	f.BoolVar(&s.metaCache, "metadata-cache", true, "keep local copies of index segments, snapshots and tree packs of S3 repositories")
}

// options builds the registry options for location.
func (g *globals) storageOptions(location string) (registry.Options, error) {
	s := &g.storage
	var o registry.Options
	if err := s.check(); err != nil {
		return o, err
	}
	o.S3.Connections = s.connections
	o.S3.VirtualHost = s.virtualHost
	remote := strings.HasPrefix(location, "s3:")
	if remote && s.retries > 1 {
		// The filter retries, and says so: minio-go's own ten tries
		// of each would keep a server that stops answering silent for
		// ten timeouts before the first notice.
		o.S3.MaxRetries = 1
		o.Filters.Retry = &retry.Options{Attempts: s.retries,
			OnRetry: func(op, name string, attempt int, err error, wait time.Duration) {
				msg := fmt.Sprintf("%s %s failed (%v); try %d in %v", op, name, err, attempt+1, wait.Round(time.Millisecond))
				switch {
				case g.quiet:
				case g.json:
					// Scripts reading --json see retries too, on
					// stderr as JSON like every other message.
					printJSONTo(os.Stderr, map[string]any{"message_type": "notice", "message": msg, "item": name})
				default:
					fmt.Fprintf(os.Stderr, "cairn: %s\n", msg)
				}
			}}
	}
	o.Filters.Verify = remote && s.verifyWrites
	if s.limitRPS > 0 || s.limitBytes != "" {
		b, err := daemon.ParseBytes(s.limitBytes)
		if err != nil {
			return o, fmt.Errorf("--limit-bytes: %w", err)
		}
		o.Filters.Limit = ratelimit.Options{Requests: s.limitRPS, Bytes: float64(b)}
	}
	if remote && s.metaCache {
		dir := g.cacheDir
		if dir == "" {
			var err error
			if dir, err = repo.UsableDefaultCacheDir(); err != nil {
				// Only a cache: a folder another user made in its
				// place must not stop the run.
				g.notice("metadata cache: %v; running without it", err)
				return o, nil
			}
		}
		sum := sha256.Sum256([]byte(location))
		o.Filters.CacheDir = filepath.Join(dir, "objects", hex.EncodeToString(sum[:8]))
		if err := os.MkdirAll(o.Filters.CacheDir, 0o700); err != nil {
			return o, fmt.Errorf("metadata cache: %w", err)
		}
	}
	return o, nil
}

// openBackend opens (or with create, creates) the storage at location.
// Opening storage that answers that it is not there (a missing folder or
// bucket) fails with repo.ErrNoRepository (exit 10); every other failure
// (a bad location or flag, a refused connection, denied access) is returned
// as it is (exit 1).
func (g *globals) openBackend(ctx context.Context, location string, create bool) (backends.Backend, error) {
	o, err := g.storageOptions(location)
	if err != nil {
		return nil, err
	}
	if create {
		return registry.CreateWith(ctx, location, o)
	}
	be, err := registry.OpenWith(ctx, location, o)
	if err != nil && (errors.Is(err, backends.ErrNotFound) || errors.Is(err, fs.ErrNotExist)) {
		return nil, fmt.Errorf("%v: %w", err, repo.ErrNoRepository)
	}
	return be, err
}

// checkStorageFlags refuses flag values that mean nothing.
func (s *storageFlags) check() error {
	if s.retries < 1 {
		return fmt.Errorf("--retries %d: give at least 1 (1: no retry)", s.retries)
	}
	if s.connections < 1 {
		return fmt.Errorf("--connections %d: give at least 1", s.connections)
	}
	if s.limitRPS < 0 || math.IsNaN(s.limitRPS) || math.IsInf(s.limitRPS, 0) {
		return fmt.Errorf("--limit-requests %v: give a number of requests per second, or 0 for no limit", s.limitRPS)
	}
	if _, err := daemon.ParseBytes(s.limitBytes); err != nil {
		return fmt.Errorf("--limit-bytes: %w", err)
	}
	return nil
}
