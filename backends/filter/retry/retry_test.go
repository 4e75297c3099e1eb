package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/mem"
)

var fast = retry.Options{MinDelay: time.Microsecond, MaxDelay: time.Millisecond}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend { return retry.New(mem.New(), fast) })
}

// TestConformanceThroughFaults passes the suite over a backend that fails a
// fifth of all calls.
func TestConformanceThroughFaults(t *testing.T) {
	var seed uint64
	backendtest.Run(t, func(*testing.T) backends.Backend {
		seed++
		opts := fast
		opts.Attempts = 30
		return retry.New(fault.New(mem.New(), fault.Options{Seed: seed, ErrorRate: 0.2}), opts)
	})
}

func TestGivesUp(t *testing.T) {
	c := backendtest.Count(fault.New(mem.New(), fault.Options{ErrorRate: 1}))
	var retries int
	opts := fast
	opts.Attempts = 3
	opts.OnRetry = func(string, string, int, error, time.Duration) { retries++ }
	err := retry.New(c, opts).Save(t.Context(), "data/ab/x", []byte("x"))
	if !errors.Is(err, retry.ErrGaveUp) || !errors.Is(err, fault.ErrInjected) || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("error %v, want one saying it gave up after 3 attempts, wrapping the fault", err)
	}
	if c.Calls("save") != 3 || retries != 2 {
		t.Errorf("%d saves and %d retries, want 3 and 2", c.Calls("save"), retries)
	}
}

// TestLastTryEndsTheTriesEarly: LastTry cuts the tries short for the
// failures it picks, with the same error as tries run out; other failures
// get all of Attempts.
func TestLastTryEndsTheTriesEarly(t *testing.T) {
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		err   error
		tries int
	}{{refused, 4}, {errors.New("503 Service Unavailable"), 9}} {
		var tries int
		opts := fast
		opts.Attempts = 9
		opts.LastTry = func(attempt int, err error) bool { return attempt >= 4 && errors.Is(err, refused) }
		err := retry.Do(t.Context(), opts, "open", "s3:x", func(int) error { tries++; return tc.err })
		want := fmt.Sprintf("open s3:x: gave up after %d attempts: %v", tc.tries, tc.err)
		if tries != tc.tries || !errors.Is(err, retry.ErrGaveUp) || err.Error() != want {
			t.Errorf("%v: %d tries, error %v; want %d tries and %q", tc.err, tries, err, tc.tries, want)
		}
	}
}

// failing answers every call with err.
type failing struct {
	backends.Backend
	err error
}

func (f failing) Load(context.Context, string, int64, int64) ([]byte, error) { return nil, f.err }

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	for _, perm := range []error{backends.ErrNotFound, backends.ErrExists, backends.ErrRange, backends.ErrInvalidName,
		backends.ErrAccessDenied, backends.ErrPermanent, context.Canceled} {
		c := backendtest.Count(failing{mem.New(), fmt.Errorf("wrapped: %w", perm)})
		_, err := retry.New(c, fast).Load(t.Context(), "config", 0, -1)
		if !errors.Is(err, perm) || c.Calls("load") != 1 {
			t.Errorf("%v: %d calls, error %v; want 1 call and that error", perm, c.Calls("load"), err)
		}
	}
	c := backendtest.Count(failing{mem.New(), errors.New("connection reset")})
	retry.New(c, fast).Load(t.Context(), "config", 0, -1)
	if c.Calls("load") != retry.DefaultAttempts {
		t.Errorf("transient error: %d calls, want %d", c.Calls("load"), retry.DefaultAttempts)
	}
}

func TestCanceledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	b := retry.New(failing{mem.New(), errors.New("timeout")}, retry.Options{MinDelay: time.Hour})
	start := time.Now()
	_, err := b.Load(ctx, "config", 0, -1)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("error %v after %v, want the deadline at once", err, time.Since(start))
	}
}

// TestCreateWhoseAnswerWasLost: the first Create stores the object and then
// fails; the retry finds it there with the same data and succeeds.
func TestCreateWhoseAnswerWasLost(t *testing.T) {
	f := fault.New(mem.New(), fault.Options{LateErrorRate: 1})
	b := retry.New(lateOnce{f}, fast)
	if err := b.Create(t.Context(), "config", []byte("mine")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := b.Create(t.Context(), "config", []byte("other")); !errors.Is(err, backends.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
}

// lateOnce turns the late errors of its fault filter off after one.
type lateOnce struct{ *fault.Backend }

func (l lateOnce) Create(ctx context.Context, name string, data []byte) error {
	err := l.Backend.Create(ctx, name, data)
	l.Backend.Set(fault.Options{})
	return err
}

// flakyList fails every listing after reporting two objects, the first
// time.
type flakyList struct {
	backends.Backend
	failed bool
}

func (f *flakyList) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	n := 0
	return f.Backend.List(ctx, prefix, func(fi backends.Info) error {
		if n++; n > 2 && !f.failed {
			f.failed = true
			return errors.New("connection reset")
		}
		return fn(fi)
	})
}

func TestListStartsOverWithoutRepeating(t *testing.T) {
	m := mem.New()
	for i := range 5 {
		m.Save(t.Context(), fmt.Sprintf("index/%d", i), nil)
	}
	seen := map[string]int{}
	err := retry.New(&flakyList{Backend: m}, fast).List(t.Context(), "index/", func(fi backends.Info) error {
		seen[fi.Name]++
		return nil
	})
	if err != nil || len(seen) != 5 {
		t.Fatalf("list: %v, %v", seen, err)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s reported %d times", name, n)
		}
	}
	stop := errors.New("stop")
	c := backendtest.Count(m)
	err = retry.New(c, fast).List(t.Context(), "index/", func(backends.Info) error { return stop })
	if !errors.Is(err, stop) || c.Calls("list") != 1 {
		t.Errorf("list stopped by fn: %v after %d listings, want fn's error after 1", err, c.Calls("list"))
	}
}
