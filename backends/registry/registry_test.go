package registry_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/filter/cache"
	"github.com/cairn-backup/cairn/backends/filter/ratelimit"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/filter/verify"
	"github.com/cairn-backup/cairn/backends/registry"
	"github.com/cairn-backup/cairn/backends/s3"
	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

func TestLocal(t *testing.T) {
	base := t.TempDir()
	for i, loc := range []string{
		filepath.Join(base, "plain"),
		"local:" + filepath.Join(base, "prefixed"),
	} {
		if _, err := registry.Open(loc); err == nil {
			t.Errorf("open %q before create succeeded", loc)
		}
		b, err := registry.Create(loc)
		if err != nil {
			t.Fatalf("create %q: %v", loc, err)
		}
		dir := strings.TrimPrefix(loc, "local:")
		if b.Location() != "local:"+dir {
			t.Errorf("location %q, want %q", b.Location(), "local:"+dir)
		}
		if err := b.Save(t.Context(), "config", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := registry.Open(loc); err != nil {
			t.Errorf("open %q: %v", loc, err)
		}
	}
}

func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, loc := range []string{"repo", "./with:colon", "1abc:x"} {
		b, err := registry.Create(loc)
		if err != nil {
			t.Fatalf("create %q: %v", loc, err)
		}
		if !strings.HasPrefix(b.Location(), "local:/") {
			t.Errorf("create %q: location %q is not an absolute local path", loc, b.Location())
		}
	}
	if _, err := os.Stat("with:colon"); err != nil {
		t.Error(err)
	}
}

func TestBadLocations(t *testing.T) {
	for loc, want := range map[string]string{
		"":             "empty",
		"ftp:host/x":   `unknown scheme "ftp" (known: local, s3;`,
		"s3:bucket/p":  `want s3:http(s)://host[:port]/bucket[/prefix]`,
		"local:":       "nothing after",
		"S3x:bucket/p": `unknown scheme "S3x"`,
	} {
		_, err := registry.Open(loc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("open %q: %v, want an error containing %q", loc, err, want)
		}
	}
}

func TestS3(t *testing.T) {
	srv := s3test.New(t)
	opts := registry.Options{S3: s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region}}
	loc := srv.Endpoint + "/registry-bucket/repo"
	if _, err := registry.OpenWith(t.Context(), "s3:"+loc, opts); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("open before create: %v, want ErrNotFound", err)
	}
	b, err := registry.CreateWith(t.Context(), "s3:"+loc, opts)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if b.Location() != "s3:"+loc {
		t.Errorf("location %q", b.Location())
	}
	if err := b.Create(t.Context(), "config", []byte("c")); err != nil {
		t.Fatal(err)
	}
	b, err = registry.OpenWith(t.Context(), "s3:"+loc, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got, err := b.Load(t.Context(), "config", 0, -1); err != nil || string(got) != "c" {
		t.Errorf("load: %q, %v", got, err)
	}
}

func TestFilters(t *testing.T) {
	b, err := registry.CreateWith(t.Context(), t.TempDir(), registry.Options{Filters: registry.Filters{
		Retry:    &retry.Options{},
		Verify:   true,
		Limit:    ratelimit.Options{Requests: 1000},
		CacheDir: t.TempDir(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var layers []string
	for {
		layers = append(layers, fmt.Sprintf("%T", b))
		u, ok := b.(backends.Unwrapper)
		if !ok {
			break
		}
		b = u.Unwrap()
	}
	want := fmt.Sprintf("%T %T %T %T *local.Local", &cache.Backend{}, &retry.Backend{}, &ratelimit.Backend{}, &verify.Backend{})
	if got := strings.Join(layers, " "); got != want {
		t.Errorf("layers %s, want %s", got, want)
	}
}

// TestS3OpenRetriesThrottling: the first request of opening an S3
// repository, which comes before the retry filter wraps the backend, is
// repeated with the filter's tries and backoff, so a server that throttles
// it (503 SlowDown) for longer than a second or two does not fail the
// opening when the same answers to any later call would be waited out,
// all the tries asked for, more than when nothing answers at all.
func TestS3OpenRetriesThrottling(t *testing.T) {
	srv := s3test.New(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var throttled, retried atomic.Int64
	const refusals = registry.OpenUnreachableAttempts + 2
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && throttled.Load() < refusals {
			throttled.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable) // a HEAD's answer has no body
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	opts := registry.Options{S3: s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region, MaxRetries: 1}}
	opts.Filters.Retry = &retry.Options{Attempts: refusals + 2, MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond,
		OnRetry: func(op, name string, attempt int, err error, wait time.Duration) { retried.Add(1) }}
	loc := "s3:" + front.URL + "/" + srv.Bucket + "/throttled"
	b, err := registry.OpenWith(t.Context(), loc, opts)
	if err != nil {
		t.Fatalf("open through %d throttled answers with %d tries: %v", refusals, refusals+2, err)
	}
	b.Close()
	if n := throttled.Load(); n != refusals {
		t.Errorf("%d throttled answers, want %d", n, refusals)
	}
	if n := retried.Load(); n != refusals {
		t.Errorf("OnRetry heard of %d retries, want %d", n, refusals)
	}

	// Beyond the tries, the opening fails, saying why.
	throttled.Store(-100)
	opts.Filters.Retry.Attempts = 3
	if _, err := registry.OpenWith(t.Context(), loc, opts); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("open of a server that keeps throttling: %v, want its 503", err)
	}
	// What repeating cannot cure is not repeated.
	throttled.Store(refusals)
	retried.Store(0)
	opts.S3.SecretKey = "wrong"
	if _, err := registry.OpenWith(t.Context(), loc, opts); !errors.Is(err, backends.ErrAccessDenied) || retried.Load() != 0 {
		t.Errorf("open with a wrong secret: %v after %d retries, want ErrAccessDenied at once", err, retried.Load())
	}
}

// TestS3OpenGivesUpSoonerWhenNothingAnswers: a refused connection at the
// first request of opening or creating an S3 repository (a mistyped port,
// a server not running) is tried OpenUnreachableAttempts times, as before
// the retry filter's default grew to ride out a restarting server, so that
// the user hears of it in seconds rather than minutes; the error says how
// many tries were made. Fewer tries asked for are not exceeded.
func TestS3OpenGivesUpSoonerWhenNothingAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loc := "s3:http://" + l.Addr().String() + "/bucket/repo"
	l.Close() // nothing listens there now
	for _, tc := range []struct{ attempts, want int }{{retry.DefaultAttempts, registry.OpenUnreachableAttempts}, {3, 3}} {
		for name, open := range map[string]func(string, registry.Options) (backends.Backend, error){
			"open": func(loc string, o registry.Options) (backends.Backend, error) {
				return registry.OpenWith(t.Context(), loc, o)
			},
			"create": func(loc string, o registry.Options) (backends.Backend, error) {
				return registry.CreateWith(t.Context(), loc, o)
			},
		} {
			var retried int
			opts := registry.Options{S3: s3.Options{AccessKey: "k", SecretKey: "s", MaxRetries: 1}}
			opts.Filters.Retry = &retry.Options{Attempts: tc.attempts, MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond,
				OnRetry: func(string, string, int, error, time.Duration) { retried++ }}
			_, err := open(loc, opts)
			if want := fmt.Sprintf("gave up after %d attempts", tc.want); err == nil || !strings.Contains(err.Error(), want) ||
				!strings.Contains(err.Error(), "connection refused") || retried != tc.want-1 {
				t.Errorf("%s with %d tries where nothing listens: %v after %d retries; want %q, connection refused, after %d retries",
					name, tc.attempts, err, retried, want, tc.want-1)
			}
		}
	}
}

// TestS3CreateRetriesThrottling: creating the bucket of a new repository
// is repeated like the opening's first request, so `cairn init` on a
// server that throttles it for a moment makes the bucket; a repeat whose
// first try made the bucket but lost its answer finds it made and goes on.
func TestS3CreateRetriesThrottling(t *testing.T) {
	srv := s3test.New(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	bucket := fmt.Sprintf("made-%d", time.Now().UnixNano())
	var puts atomic.Int64
	const refusals = 3
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Trim(r.URL.Path, "/") == bucket {
			switch puts.Add(1) {
			case 1, 2:
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><BucketName>%s</BucketName></Error>`, bucket)
				return
			case 3:
				// Made, but the answer is lost on its way.
				rec := httptest.NewRecorder()
				proxy.ServeHTTP(rec, r)
				w.WriteHeader(http.StatusBadGateway)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	opts := registry.Options{S3: s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region, MaxRetries: 1}}
	opts.Filters.Retry = &retry.Options{Attempts: refusals + 2, MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}
	b, err := registry.CreateWith(t.Context(), "s3:"+front.URL+"/"+bucket+"/repo", opts)
	if err != nil {
		t.Fatalf("create through %d failed answers to making the bucket: %v", refusals, err)
	}
	defer b.Close()
	if n := puts.Load(); n != refusals+1 {
		t.Errorf("%d tries to make the bucket, want %d", n, refusals+1)
	}
	if err := b.Save(t.Context(), "config", []byte("x")); err != nil {
		t.Errorf("save into the bucket made: %v", err)
	}
}
