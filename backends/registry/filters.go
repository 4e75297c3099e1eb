package registry

import (
	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/filter/cache"
	"github.com/cairn-backup/cairn/backends/filter/ratelimit"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/filter/verify"
)

// Filters say which filters to wrap around a backend. The zero value wraps
// none.
type Filters struct {
	// Retry, when set, retries transient failures with these options
	// (their zero value is the retry package's defaults).
	Retry *retry.Options
	// Verify checks every write after it is made (see package verify).
	Verify bool
	// Limit caps requests and bytes per second; zero fields are no limit.
	Limit ratelimit.Options
	// CacheDir, when not empty, keeps copies of metadata objects there.
	CacheDir string
}

// Wrap wraps b in the filters f asks for, from the inside out: verify
// (next to the storage, where it can ask for checksums), rate limit (so
// every attempt is counted), retry, and the cache outermost (so that hits
// cost nothing). Unwrap leads back to b.
func Wrap(b backends.Backend, f Filters) (backends.Backend, error) {
	if f.Verify {
		b = verify.New(b, verify.Options{})
	}
	if f.Limit.Requests > 0 || f.Limit.Bytes > 0 {
		b = ratelimit.New(b, f.Limit)
	}
	if f.Retry != nil {
		b = retry.New(b, *f.Retry)
	}
	if f.CacheDir != "" {
		c, err := cache.New(b, cache.Options{Dir: f.CacheDir})
		if err != nil {
			return nil, err
		}
		b = c
	}
	return b, nil
}
