package s3_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/filter/fault"
	"github.com/cairn-backup/cairn/backends/filter/retry"
	"github.com/cairn-backup/cairn/backends/filter/verify"
	"github.com/cairn-backup/cairn/backends/s3"
	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

// prefixes numbers the repositories the tests make in the server's bucket.
var prefixes atomic.Int64

// open returns a backend on a new, empty prefix of srv's bucket.
func open(t *testing.T, srv *s3test.Server, opts s3.Options) *s3.S3 {
	t.Helper()
	opts.AccessKey, opts.SecretKey, opts.Region = srv.AccessKey, srv.SecretKey, srv.Region
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	loc := srv.Location(fmt.Sprintf("%s-%d", name, prefixes.Add(1)))
	b, err := s3.Open(t.Context(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	srv := s3test.New(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend { return open(t, srv, s3.Options{}) })
}

func TestConformanceRetryVerify(t *testing.T) {
	srv := s3test.New(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return retry.New(verify.New(open(t, srv, s3.Options{}), verify.Options{}), retry.Options{MinDelay: 10 * time.Millisecond})
	})
}

// TestConformanceThroughFaults: with 5% of calls failing and 5% of saves
// lost, retry and verify still give a backend that keeps the contract.
func TestConformanceThroughFaults(t *testing.T) {
	srv := s3test.New(t)
	var seed atomic.Uint64
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		f := fault.New(open(t, srv, s3.Options{}), fault.Options{Seed: seed.Add(1), ErrorRate: 0.05, LostWriteRate: 0.05})
		v := verify.New(f, verify.Options{Attempts: 10, Delay: time.Millisecond})
		return retry.New(v, retry.Options{Attempts: 10, MinDelay: time.Millisecond})
	})
}

func TestParseLocation(t *testing.T) {
	for loc, want := range map[string]string{
		"s3:http://127.0.0.1:7070/bucket":          "http://127.0.0.1:7070 bucket ",
		"s3:https://s3.example.com/bkt/p/q":        "https://s3.example.com bkt p/q/",
		"https://s3.example.com/bkt/p/":            "https://s3.example.com bkt p/",
		"s3:http://[::1]:9000/bkt/repo":            "http://[::1]:9000 bkt repo/",
		"s3:ftp://host/bkt":                        "error",
		"s3:http:///bkt":                           "error",
		"s3:http://host":                           "error",
		"s3:http://host/":                          "error",
		"s3:http://host/bkt/../x":                  "error",
		"s3:http://host/bkt/.hidden":               "error",
		"s3:http://key:secret@host/bkt":            "error",
		"s3:http://host/bkt?x=1":                   "error",
		"s3:bucket/prefix":                         "error",
		"s3:127.0.0.1:7070/backups/cairn":          "https://127.0.0.1:7070 backups cairn/",
		"s3:s3.amazonaws.com/bkt":                  "https://s3.amazonaws.com bkt ",
		"s3:localhost/bkt/p":                       "https://localhost bkt p/",
		"s3:[::1]:9000/bkt":                        "https://[::1]:9000 bkt ",
		"s3://s3.amazonaws.com/bkt/p":              "https://s3.amazonaws.com bkt p/",
		"s3://127.0.0.1:7070/bkt":                  "https://127.0.0.1:7070 bkt ",
		"s3://bkt/p":                               "error",
		"s3:///bkt":                                "error",
		"s3:s3.example.com":                        "error",
		"s3:s3.example.com/":                       "error",
		"s3:http:/host/bkt":                        "error",
		"s3:https:host/bkt":                        "error",
		"s3:/bkt":                                  "error",
		"s3:http://host/b/p":                       "error",
		"s3:https://s3.example.com/bkt/a//bkt":     "error",
		"s3:https://s3.example.com/bkt/data/ab/cd": "https://s3.example.com bkt data/ab/cd/",
	} {
		endpoint, bucket, prefix, err := s3.ParseLocation(loc)
		got := "error"
		if err == nil {
			got = fmt.Sprintf("%s %s %s", endpoint, bucket, prefix)
		}
		if got != want {
			t.Errorf("ParseLocation(%q) = %s (%v), want %s", loc, got, err, want)
		}
	}
}

// TestParseLocationAWSCLIForm: the AWS CLI's "s3://bucket/prefix" is
// refused with the location that names the bucket on AWS, not with a
// pointer to "s3:https://bucket/prefix", which takes the bucket for the
// host again.
func TestParseLocationAWSCLIForm(t *testing.T) {
	_, _, _, err := s3.ParseLocation("s3://my-backups/host1")
	if err == nil || !strings.Contains(err.Error(), "s3:s3.amazonaws.com/my-backups/host1") || strings.Contains(err.Error(), "s3:https://my-backups") {
		t.Errorf("ParseLocation of the AWS CLI's s3://bucket/prefix: %v, want a pointer to s3:s3.amazonaws.com/my-backups/host1", err)
	}
}

// TestVirtualHostOnIPAddress: a bucket cannot be addressed as a host name
// under an IP address; cairn says so rather than asking DNS for
// "bucket.127.0.0.1" until its retries run out.
func TestVirtualHostOnIPAddress(t *testing.T) {
	for _, loc := range []string{"s3:http://127.0.0.1:9000/bkt/p", "s3:https://[::1]:9000/bkt"} {
		_, err := s3.Open(t.Context(), loc, s3.Options{AccessKey: "a", SecretKey: "b", VirtualHost: true, MaxRetries: 1})
		if err == nil || !strings.Contains(err.Error(), "needs a host name") {
			t.Errorf("%s with virtual-host addressing: %v", loc, err)
		}
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	_, err := s3.Open(t.Context(), "s3:http://127.0.0.1:1/bkt", s3.Options{})
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("open without credentials: %v", err)
	}
}

// TestCredentialsFromProfile: without AWS_ACCESS_KEY_ID, the keys come
// from the shared AWS files as for restic and the AWS CLI: the default
// profile, or AWS_PROFILE's, of the credentials file or the config file.
// A named profile that is missing says so.
func TestCredentialsFromProfile(t *testing.T) {
	srv := s3test.New(t)
	dir := t.TempDir()
	credsFile, configFile := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
	os.WriteFile(credsFile, []byte("[default]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+
		"\n[wrong]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = not-the-secret\n"), 0o600)
	os.WriteFile(configFile, []byte("[profile backup]\naws_access_key_id = "+srv.AccessKey+"\naws_secret_access_key = "+srv.SecretKey+"\n"), 0o600)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credsFile)
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_DEFAULT_REGION", srv.Region)
	for _, profile := range []string{"", "default", "backup"} {
		t.Setenv("AWS_PROFILE", profile)
		b, err := s3.Open(t.Context(), srv.Location("profile"), s3.Options{})
		if err != nil {
			t.Fatalf("AWS_PROFILE=%q: %v", profile, err)
		}
		if err := b.Save(t.Context(), "config-"+profile, []byte("x")); err != nil {
			t.Fatalf("AWS_PROFILE=%q: %v", profile, err)
		}
		b.Close()
	}
	t.Setenv("AWS_PROFILE", "wrong")
	if _, err := s3.Open(t.Context(), srv.Location("profile"), s3.Options{}); !errors.Is(err, backends.ErrAccessDenied) {
		t.Errorf("AWS_PROFILE with a wrong secret: %v, want access denied", err)
	}
	t.Setenv("AWS_PROFILE", "missing")
	if _, err := s3.Open(t.Context(), srv.Location("profile"), s3.Options{}); err == nil || !strings.Contains(err.Error(), `AWS_PROFILE "missing"`) {
		t.Errorf("AWS_PROFILE naming no profile: %v", err)
	}
}

// TestCredentialProcessRunsOnce: a credential_process whose keys carry no
// Expiration gives keys that do not expire (as for the AWS SDK): it runs
// once, not once per request (a helper that asks for a passphrase or a
// touch of a hardware key would ask at every upload).
func TestCredentialProcessRunsOnce(t *testing.T) {
	srv := s3test.New(t)
	count, _, _ := credentialProcessProfile(t, srv, "", "/bin/sh ")
	b, err := s3.Open(t.Context(), srv.Location("process"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 5 {
		if err := b.Save(t.Context(), "data/"+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := os.ReadFile(count)
	if n := strings.Count(string(runs), "\n"); n != 1 {
		t.Errorf("credential_process ran %d times for an open and 5 saves, want once", n)
	}
}

func TestCredentialsFromEnvironment(t *testing.T) {
	srv := s3test.New(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_DEFAULT_REGION", srv.Region)
	b, err := s3.Open(t.Context(), srv.Location("env"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(t.Context(), "config", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestAccessDenied(t *testing.T) {
	srv := s3test.New(t)
	start := time.Now()
	_, err := s3.Open(t.Context(), srv.Location("x"), s3.Options{AccessKey: srv.AccessKey, SecretKey: "wrong", Region: srv.Region})
	if !errors.Is(err, backends.ErrAccessDenied) || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("open with a wrong secret: %v, want access denied naming the variables", err)
	}
	if !backends.Permanent(err) {
		t.Errorf("access denied would be retried")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusal took %v: was it retried?", d)
	}
}

// An access key the server does not know is refused credentials, not a
// missing bucket or repository, also on servers whose answer to a HEAD of
// the bucket is then a bare 404 (versitygw).
func TestUnknownAccessKey(t *testing.T) {
	srv := s3test.New(t)
	opts := s3.Options{AccessKey: "nobody", SecretKey: srv.SecretKey, Region: srv.Region}
	_, err := s3.Open(t.Context(), srv.Location("x"), opts)
	if !errors.Is(err, backends.ErrAccessDenied) || errors.Is(err, backends.ErrNotFound) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("open with an unknown access key: %v, want access denied naming the variables", err)
	}
	_, err = s3.Create(t.Context(), srv.Endpoint+"/other-bucket/repo", opts)
	if !errors.Is(err, backends.ErrAccessDenied) || errors.Is(err, backends.ErrNotFound) {
		t.Errorf("create with an unknown access key: %v, want access denied", err)
	}
}

// A region the server does not serve is named as the reason, not a bare
// "400 Bad Request" (the answer to a HEAD has no body to say why).
func TestWrongRegion(t *testing.T) {
	srv := s3test.New(t)
	opts := s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: "eu-west-1"}
	_, err := s3.Open(t.Context(), srv.Location("x"), opts)
	if err == nil || !strings.Contains(err.Error(), "region") || errors.Is(err, backends.ErrNotFound) {
		t.Errorf("open in the wrong region: %v, want an error naming the region", err)
	}
}

// An upload to a server that stops answering in the middle of the body
// fails once no byte has moved for the I/O timeout, for a retry to take
// over, rather than blocking for as long as the server's kernel keeps the
// connection open (forever).
func TestServerHangsMidUpload(t *testing.T) {
	srv := s3test.New(t)
	b := open(t, srv, s3.Options{IOTimeout: time.Second, MaxRetries: 1})
	data := make([]byte, 48<<20) // more than the sockets' buffers hold
	if err := srv.Freeze(); err != nil {
		t.Fatal(err)
	}
	defer srv.Thaw()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- b.Save(t.Context(), "data/ab/hung", data) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("save to a frozen server succeeded")
		}
		if backends.Permanent(err) {
			t.Errorf("save to a frozen server: %v, which a retry filter would not retry", err)
		}
		t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(45 * time.Second):
		t.Fatal("save to a frozen server still blocked after 45s")
	}
	if err := srv.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(t.Context(), "data/ab/hung", data[:1000]); err != nil {
		t.Fatalf("save after the server came back: %v", err)
	}
}

// A server that does not answer in time is a passing failure, for a retry
// to take over, not the caller's deadline (net/http's timeout awaiting the
// answer's headers says it is a context.DeadlineExceeded); Open, which
// comes before any retry filter, asks three times when minio-go does not
// retry.
func TestAnswerTimeoutIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			defer c.Close() // read nothing, answer nothing
		}
	}()
	tr := &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}
	defer tr.CloseIdleConnections()
	_, err = s3.Open(t.Context(), "s3:http://"+l.Addr().String()+"/bkt/x",
		s3.Options{AccessKey: "a", SecretKey: "b", Transport: tr, MaxRetries: 1})
	if err == nil || backends.Permanent(err) {
		t.Errorf("open of a server that does not answer: %v, want a failure a retry may cure", err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("open asked %d times, want 3", n)
	}
}

// otherRegion answers requests as AWS answers those for a bucket of
// another region: 301, the bucket's region in x-amz-bucket-region, and the
// body (but for a HEAD) of a PermanentRedirect.
type otherRegion struct{ region string }

func (o otherRegion) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := refuse(req, http.StatusMovedPermanently, "PermanentRedirect")
	resp.Header.Set("x-amz-bucket-region", o.region)
	if req.Method == http.MethodHead {
		resp.Body, resp.ContentLength = http.NoBody, 0
	}
	return resp, nil
}

// TestBucketOfAnotherRegion: a bucket in another region than the one
// cairn signs for is named as such at once, not retried as a passing
// failure.
func TestBucketOfAnotherRegion(t *testing.T) {
	var asked atomic.Int32
	tr := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		asked.Add(1)
		return otherRegion{"eu-central-1"}.RoundTrip(req)
	})
	_, err := s3.Open(t.Context(), "s3:http://127.0.0.1:1/bkt/x",
		s3.Options{AccessKey: "a", SecretKey: "b", Region: "us-east-1", Transport: tr, MaxRetries: 1})
	if !errors.Is(err, backends.ErrPermanent) || !strings.Contains(err.Error(), "AWS_REGION=eu-central-1") {
		t.Errorf("open of a bucket in another region: %v, want a permanent error naming the region", err)
	} else {
		t.Log(err)
	}
	if n := asked.Load(); n > 2 {
		t.Errorf("open asked %d times, want no retry", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// skewedClock signs requests as a host whose clock is an hour behind.
type skewedClock struct{ base http.RoundTripper }

func (c skewedClock) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("X-Amz-Date", time.Now().UTC().Add(-time.Hour).Format("20060102T150405Z"))
	return c.base.RoundTrip(r)
}

// A clock too far from the server's is named as what to fix, not taken for
// wrong credentials (S3 answers both with 403).
func TestClockSkew(t *testing.T) {
	srv := s3test.New(t)
	_, err := s3.Open(t.Context(), srv.Location("x"), s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Region: srv.Region, Transport: skewedClock{http.DefaultTransport}})
	if err == nil || !strings.Contains(err.Error(), "clock") || strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") || !backends.Permanent(err) {
		t.Errorf("open with a skewed clock: %v, want a permanent error naming the clock, not the credentials", err)
	}
}

func TestBucketCreation(t *testing.T) {
	srv := s3test.New(t)
	opts := s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region}
	loc := srv.Endpoint + "/new-bucket/repo"
	if _, err := s3.Open(t.Context(), loc, opts); !errors.Is(err, backends.ErrNotFound) || !strings.Contains(err.Error(), "new-bucket") {
		t.Fatalf("open in a missing bucket: %v", err)
	}
	for range 2 { // the second finds it there
		b, err := s3.Create(t.Context(), loc, opts)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if b.Location() != "s3:"+loc {
			t.Errorf("location %q", b.Location())
		}
	}
	if _, err := s3.Open(t.Context(), loc, opts); err != nil {
		t.Fatalf("open after create: %v", err)
	}
}

func TestMultipartAndChecksums(t *testing.T) {
	srv := s3test.New(t)
	rec := &recorder{base: http.DefaultTransport}
	b := open(t, srv, s3.Options{PartSize: 5 << 20, MultipartThreshold: 6 << 20, Transport: rec})
	ctx := t.Context()
	for _, size := range []int{0, 1000, 6 << 20, 12<<20 + 1} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(size), byte(size >> 8), byte(size >> 16)}).Read(data)
		name := fmt.Sprintf("data/ab/size-%d", size)
		if err := b.Save(ctx, name, data); err != nil {
			t.Fatalf("save %d bytes: %v", size, err)
		}
		got, err := b.Load(ctx, name, 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("load %d bytes: %d bytes, %v", size, len(got), err)
		}
		fi, sum, err := b.StatSum(ctx, name)
		if err != nil || fi.Size != int64(size) || sum != b.Sum(data) {
			t.Errorf("%d bytes: stat %+v, checksum %q, %v; want checksum %q", size, fi, sum, err, b.Sum(data))
		}
		if multi := size > 6<<20; strings.HasSuffix(sum, "-3") != multi || strings.HasPrefix(sum, "crc32c:") == multi {
			t.Errorf("%d bytes: checksum %q, multipart %v", size, sum, multi)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.parts != 3 {
		t.Errorf("%d part uploads, want 3", rec.parts)
	}
	// One PUTs carry the CRC32C, parts Content-MD5.
	if rec.puts == 0 || rec.unchecked != 0 || rec.withCRC32C != rec.puts-rec.parts {
		t.Errorf("%d uploads: %d with neither checksum, %d with CRC32C, %d parts", rec.puts, rec.unchecked, rec.withCRC32C, rec.parts)
	}
}

// TestChecksumFallback: the server refuses the CRC32C header, stores the
// object without confirming it, or is not to be trusted with it: uploads
// then carry Content-MD5, and verify-after-write still agrees.
func TestChecksumFallback(t *testing.T) {
	srv := s3test.New(t)
	for _, tc := range []struct {
		name string
		rec  *recorder
		opts s3.Options
	}{
		{"refused", &recorder{refuseCRC32C: true}, s3.Options{}},
		{"ignored", &recorder{hideCRC32C: true}, s3.Options{}},
		{"option", &recorder{}, s3.Options{ContentMD5: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.base = http.DefaultTransport
			tc.opts.Transport = tc.rec
			b := open(t, srv, tc.opts)
			v := verify.New(b, verify.Options{Attempts: 1})
			ctx := t.Context()
			for i := range 3 {
				data := []byte(fmt.Sprintf("object %d", i))
				if err := v.Save(ctx, fmt.Sprintf("data/ab/%d", i), data); err != nil {
					t.Fatalf("save %d: %v", i, err)
				}
				if _, sum, err := b.StatSum(ctx, fmt.Sprintf("data/ab/%d", i)); err != nil || sum != b.Sum(data) || strings.HasPrefix(sum, "crc32c:") {
					t.Errorf("object %d: checksum %q (%v), want the MD5 %q", i, sum, err, b.Sum(data))
				}
			}
			if err := v.Create(ctx, "config", []byte("c")); err != nil {
				t.Fatalf("create: %v", err)
			}
			if got, err := b.Load(ctx, "config", 0, -1); err != nil || string(got) != "c" {
				t.Errorf("config: %q, %v", got, err)
			}
			tc.rec.mu.Lock()
			defer tc.rec.mu.Unlock()
			// At most the first upload tries the CRC32C (and is sent again).
			want := 1
			if tc.opts.ContentMD5 {
				want = 0
			}
			if tc.rec.withCRC32C != want || tc.rec.puts != tc.rec.withMD5+want {
				t.Errorf("%d uploads: %d with CRC32C (want %d), %d with Content-MD5", tc.rec.puts, tc.rec.withCRC32C, want, tc.rec.withMD5)
			}
		})
	}
}

// TestChecksumChecked: the server refuses a body that does not match its
// CRC32C, and the error is one a retry may cure.
func TestChecksumChecked(t *testing.T) {
	srv := s3test.New(t)
	rec := &recorder{base: http.DefaultTransport, damage: 1}
	b := open(t, srv, s3.Options{Transport: rec})
	err := b.Save(t.Context(), "data/ab/x", []byte("some bytes to damage"))
	if err == nil || backends.Permanent(err) || !strings.Contains(err.Error(), "BadDigest") {
		t.Fatalf("damaged upload: %v, want a transient BadDigest", err)
	}
	if _, err := b.Stat(t.Context(), "data/ab/x"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("the damaged upload was stored: %v", err)
	}
	if err := b.Save(t.Context(), "data/ab/x", []byte("some bytes to damage")); err != nil {
		t.Errorf("save again: %v", err)
	}
}

func TestConnectionsLimitUploads(t *testing.T) {
	srv := s3test.New(t)
	rec := &recorder{base: http.DefaultTransport}
	b := open(t, srv, s3.Options{Connections: 2, Transport: rec})
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if err := b.Save(t.Context(), fmt.Sprintf("data/ab/%d", i), make([]byte, 256<<10)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxPuts > 2 {
		t.Errorf("%d uploads at once, want at most 2", rec.maxPuts)
	}
}

func TestCreateWithoutConditionalWrites(t *testing.T) {
	srv := s3test.New(t)
	rec := &recorder{base: http.DefaultTransport, refuseConditional: true}
	b := open(t, srv, s3.Options{Transport: rec})
	ctx := t.Context()
	if err := b.Create(ctx, "config", []byte("a")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := b.Create(ctx, "config", []byte("b")); !errors.Is(err, backends.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	if err := b.Create(ctx, "keys/k", []byte("k")); err != nil {
		t.Fatalf("create: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.conditional != 1 {
		t.Errorf("%d conditional PUTs, want 1 (then the server is known to refuse them)", rec.conditional)
	}
}

// recorder watches the requests minio-go sends.
type recorder struct {
	base http.RoundTripper
	// refuseConditional answers conditional PUTs NotImplemented.
	refuseConditional bool
	// refuseCRC32C answers PUTs with a CRC32C header InvalidArgument;
	// hideCRC32C drops the CRC32C from the answers, as from a server that
	// ignores the header.
	refuseCRC32C, hideCRC32C bool
	// damage flips a bit of the body of this many uploads.
	damage int

	mu                               sync.Mutex
	puts, parts, withMD5, withCRC32C int
	unchecked, running, maxPuts      int
	conditional                      int
}

// refuse answers req with an S3 error.
func refuse(req *http.Request, status int, code string) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>refused by the test</Message></Error>`
	return &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/xml"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut {
		return r.base.RoundTrip(req)
	}
	r.mu.Lock()
	r.puts++
	if req.URL.Query().Has("partNumber") {
		r.parts++
	}
	md5, crc := req.Header.Get("Content-Md5") != "", req.Header.Get("X-Amz-Checksum-Crc32c") != ""
	switch {
	case md5 && crc:
		r.unchecked++ // one or the other
	case md5:
		r.withMD5++
	case crc:
		r.withCRC32C++
	default:
		r.unchecked++
	}
	conditional := req.Header.Get("If-None-Match") != ""
	if conditional {
		r.conditional++
	}
	damage := r.damage > 0 && req.ContentLength > 0
	if damage {
		r.damage--
		data, err := io.ReadAll(req.Body)
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		data[0] ^= 1
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(data))
	}
	r.running++
	r.maxPuts = max(r.maxPuts, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if conditional && r.refuseConditional {
		return refuse(req, http.StatusNotImplemented, "NotImplemented"), nil
	}
	if crc && r.refuseCRC32C {
		return refuse(req, http.StatusBadRequest, "InvalidArgument"), nil
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		if r.hideCRC32C {
			resp.Header.Del("X-Amz-Checksum-Crc32c")
		}
		// Hold the slot until the answer is read, as the upload does.
		time.Sleep(time.Millisecond)
	}
	return resp, err
}

func TestRemoveStaleUploads(t *testing.T) {
	srv := s3test.New(t)
	b := open(t, srv, s3.Options{})
	client, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	// An upload begun and abandoned, as by a process killed mid-way.
	prefix := strings.TrimPrefix(b.Location(), srv.Location("")+"/")
	pack := "/data/ab/ab" + strings.Repeat("0", 62)
	if _, err := (minio.Core{Client: client}).NewMultipartUpload(t.Context(), srv.Bucket, prefix+pack, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// Another tool's uploads beside the repository, under its prefix,
	// are not the repository's to abort.
	for _, other := range []string{prefix + "/vm-images/disk.qcow2", prefix + "/data/ab/disk.img"} {
		if _, err := (minio.Core{Client: client}).NewMultipartUpload(t.Context(), srv.Bucket, other, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.RemoveStaleTemp(time.Hour); err != nil || n != 0 {
		t.Errorf("remove uploads older than an hour: %d, %v; want none", n, err)
	}
	if n, err := b.RemoveStaleTemp(-time.Minute); err != nil || n != 1 {
		t.Errorf("remove all uploads: %d, %v; want 1", n, err)
	}
	if n, err := b.RemoveStaleTemp(-time.Minute); err != nil || n != 0 {
		t.Errorf("remove again: %d, %v; want none left", n, err)
	}
	left := 0
	for up := range client.ListIncompleteUploads(t.Context(), srv.Bucket, prefix+"/", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		left++
	}
	if left != 2 {
		t.Errorf("%d uploads left under the prefix, want the other tool's 2", left)
	}
}

// A repository at the root of a bucket shares it with whatever else is
// there: its prune aborts its own stale uploads, not another tool's.
func TestRemoveStaleUploadsAtBucketRoot(t *testing.T) {
	srv := s3test.New(t)
	b, err := s3.Open(t.Context(), srv.Location(""), s3.Options{AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	client, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	ours := "index/" + strings.Repeat("c", 64)
	for _, key := range []string{ours, "backups/db.tar.zst", "photos/2026/big.raw"} {
		if _, err := (minio.Core{Client: client}).NewMultipartUpload(t.Context(), srv.Bucket, key, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.RemoveStaleTemp(-time.Minute); err != nil || n != 1 {
		t.Errorf("remove stale uploads at the bucket root: %d, %v; want 1 (the repository's own)", n, err)
	}
	var left []string
	for up := range client.ListIncompleteUploads(t.Context(), srv.Bucket, "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		left = append(left, up.Key)
	}
	if len(left) != 2 || slices.Contains(left, ours) {
		t.Errorf("uploads left in the bucket: %q, want the other tools' two", left)
	}
}

// lengthless passes on the server's answers to GETs of objects named
// "whole*" without their Content-Length, as a chunked or close-delimited
// answer comes (from a proxy in between, say), and cut short if cut.
type lengthless struct {
	base http.RoundTripper
	cut  bool
}

func (l lengthless) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || resp.StatusCode >= 300 || !strings.Contains(r.URL.Path, "/whole") {
		return resp, err
	}
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	if l.cut {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body[:len(body)/2]))
	}
	return resp, nil
}

// An answer without a Content-Length is read whole, and one cut short is
// an error, not fewer bytes: a whole object's size is asked for when the
// answer does not say it.
func TestLoadWithoutContentLength(t *testing.T) {
	srv := s3test.New(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for _, cut := range []bool{false, true} {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		b := open(t, srv, s3.Options{Transport: lengthless{base: tr, cut: cut}, MaxRetries: 1})
		if err := b.Save(t.Context(), "snapshots/whole", data); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct{ off, n int64 }{{0, -1}, {100, -1}, {100, 1000}} {
			got, err := b.Load(t.Context(), "snapshots/whole", r.off, r.n)
			want := data[r.off:]
			if r.n >= 0 {
				want = want[:r.n]
			}
			switch {
			case cut && err == nil:
				t.Errorf("load %d+%d of an answer cut short: %d bytes and no error", r.off, r.n, len(got))
			case cut && backends.Permanent(err):
				t.Errorf("load %d+%d of an answer cut short: %v, which a retry filter would not retry", r.off, r.n, err)
			case !cut && err != nil:
				t.Errorf("load %d+%d without Content-Length: %v", r.off, r.n, err)
			case !cut && !bytes.Equal(got, want):
				t.Errorf("load %d+%d without Content-Length: %d bytes, not the %d stored", r.off, r.n, len(got), len(want))
			}
		}
	}
}

// shortened cuts the first cuts answers to GETs of objects named "whole*"
// to half, with a Content-Length that says so, as a broken proxy might.
type shortened struct {
	base http.RoundTripper
	cuts *atomic.Int64
}

func (s shortened) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || resp.StatusCode >= 300 || !strings.Contains(r.URL.Path, "/whole") {
		return resp, err
	}
	if s.cuts.Add(-1) < 0 {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = body[:len(body)/2]
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}

// A whole object whose answer comes cut short with a Content-Length that
// agrees is an error that a retry cures, not a shorter object: check would
// call an intact index segment or snapshot damaged.
func TestLoadWholeCutWithContentLength(t *testing.T) {
	srv := s3test.New(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	cuts := new(atomic.Int64)
	b := open(t, srv, s3.Options{Transport: shortened{base: tr, cuts: cuts}, MaxRetries: 1})
	for _, name := range []string{"index/whole", "index/whole-empty"} {
		want := data
		if strings.HasSuffix(name, "empty") {
			want = nil
		}
		if err := b.Save(t.Context(), name, want); err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{0, 100} {
			if off > int64(len(want)) {
				continue
			}
			cuts.Store(1)
			got, err := b.Load(t.Context(), name, off, -1)
			switch {
			case len(want) > 0 && err == nil:
				t.Errorf("load %s from %d, cut short: %d bytes and no error", name, off, len(got))
			case backends.Permanent(err):
				t.Errorf("load %s from %d, cut short: %v, which a retry filter would not retry", name, off, err)
			}
			cuts.Store(1)
			got, err = retry.New(b, retry.Options{MinDelay: time.Millisecond}).Load(t.Context(), name, off, -1)
			if err != nil || !bytes.Equal(got, want[off:]) {
				t.Errorf("load %s from %d through retry, first answer cut short: %d bytes, %v; want %d bytes", name, off, len(got), err, len(want)-int(off))
			}
		}
	}
}

// rangeIgnored answers GETs of objects named "whole*" as a server that
// ignores Range does (200, the whole object from its first byte), through
// a proxy that drops the Content-Length: all holds the stored object.
type rangeIgnored struct {
	base http.RoundTripper
	all  []byte
}

func (r rangeIgnored) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode >= 300 || !strings.Contains(req.URL.Path, "/whole") {
		return resp, err
	}
	resp.Body.Close()
	resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
	resp.Header.Del("Content-Range")
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Body = io.NopCloser(bytes.NewReader(r.all))
	return resp, nil
}

// A range answered with the whole object and no Content-Length is never
// taken for the range: its bytes come from the object's start.
func TestLoadRangeIgnoredWithoutContentLength(t *testing.T) {
	srv := s3test.New(t)
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	b := open(t, srv, s3.Options{Transport: rangeIgnored{base: tr, all: data}, MaxRetries: 1})
	if err := b.Save(t.Context(), "data/whole", data); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ off, n int64 }{{0, -1}, {0, 1000}, {100, -1}, {100, 1000}} {
		got, err := b.Load(t.Context(), "data/whole", r.off, r.n)
		want := data[r.off:]
		if r.n >= 0 {
			want = want[:r.n]
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Errorf("load %d+%d answered with the whole object: %d wrong bytes and no error", r.off, r.n, len(got))
		}
		if err != nil && r.off == 0 {
			t.Errorf("load %d+%d answered with the whole object: %v", r.off, r.n, err)
		}
	}
}

// A listing that gets no answer after a HEAD of the bucket was refused
// (403, as for a key that may list only the repository's prefix) is a
// passing network failure, said as such: it was reported as the HEAD's
// permanent "access denied", so a scheduled backup was not tried again.
func TestListFailureAfterRefusedHead(t *testing.T) {
	tr := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodHead {
			body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
			return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Header: http.Header{"Content-Type": {"application/xml"}},
				Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	})
	_, err := s3.Open(t.Context(), "s3:http://127.0.0.1:1/bkt/x",
		s3.Options{AccessKey: "a", SecretKey: "b", Region: "us-east-1", Transport: tr, MaxRetries: 1})
	if err == nil || errors.Is(err, backends.ErrAccessDenied) || backends.Permanent(err) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("open whose listing gets no answer: %v, want the network failure, not permanent", err)
	}
}

// TestCredentialProcessWithoutArguments: a profile whose credential_process
// is a bare command ("credential_process = /usr/local/bin/get-keys", as
// the AWS CLI runs it) gives its keys. minio-go refuses such a command
// ("invalid credential process args"), so cairn could not open the
// repository that the AWS CLI reached with the same profile.
func TestCredentialProcessWithoutArguments(t *testing.T) {
	srv := s3test.New(t)
	count, script, configFile := credentialProcessProfile(t, srv, "backup", "")
	b, err := s3.Open(t.Context(), srv.Location("bare"), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 3 {
		if err := b.Save(t.Context(), "data/"+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := os.ReadFile(count)
	if n := strings.Count(string(runs), "\n"); n != 1 {
		t.Errorf("credential_process ran %d times for an open and 3 saves, want once", n)
	}

	// A command that fails says what it printed.
	os.WriteFile(script, []byte("#!/bin/sh\necho 'token expired, run login' >&2\nexit 3\n"), 0o700)
	t.Setenv("AWS_CONFIG_FILE", configFile) // a fresh Open reads the files again
	if _, err := s3.Open(t.Context(), srv.Location("bare"), s3.Options{}); err == nil || !strings.Contains(err.Error(), "token expired, run login") {
		t.Fatalf("open with a failing credential_process: %v, want its message", err)
	}
}

// credentialProcessProfile makes AWS_PROFILE=profile ("": the default
// profile) of a config file the only source of keys: its credential_process
// is run (the command, then the script) and prints srv's keys, adding a
// line to count at each run. It returns count, the script and the config
// file.
func credentialProcessProfile(t *testing.T, srv *s3test.Server, profile, run string) (count, script, configFile string) {
	t.Helper()
	dir := t.TempDir()
	count, script = filepath.Join(dir, "count"), filepath.Join(dir, "creds.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho x >> "+count+"\n"+
		`echo '{"Version":1,"AccessKeyId":"`+srv.AccessKey+`","SecretAccessKey":"`+srv.SecretKey+`"}'`+"\n"), 0o700)
	section := "[default]"
	if profile != "" {
		section = "[profile " + profile + "]"
	}
	configFile = filepath.Join(dir, "config")
	os.WriteFile(configFile, []byte(section+"\ncredential_process = "+run+script+"\n"), 0o600)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", profile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_CONFIG_FILE", configFile)
	t.Setenv("AWS_DEFAULT_REGION", srv.Region)
	return count, script, configFile
}
