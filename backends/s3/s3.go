// Package s3 keeps a repository in S3-compatible object storage (AWS S3,
// MinIO, Ceph RGW, Garage, versitygw), through minio-go.
//
// # Location
//
//	s3:http(s)://host[:port]/bucket[/prefix]
//
// Object "data/ab/abcd" is the key "prefix/data/ab/abcd" in the bucket.
// Credentials come from Options or else from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or else, as for restic and
// the AWS CLI, from the profile AWS_PROFILE (or "default") in
// ~/.aws/credentials or ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
// AWS_CONFIG_FILE); the region from Options, AWS_REGION,
// AWS_DEFAULT_REGION or that profile's region, else us-east-1, in the AWS
// CLI's order. Buckets are addressed
// path-style (host/bucket/key) unless Options.VirtualHost asks for
// bucket.host/key.
//
// # Uploads
//
// An S3 PUT is atomic: readers see the old object or the new one. Every
// upload carries a checksum that the server checks before it stores
// anything, so bytes damaged on the way are refused rather than kept: an
// x-amz-checksum-crc32c header (CRC32C costs next to nothing, where MD5
// costs a second pass over every byte), which S3 then keeps with the
// object. A server that refuses that header, or stores the object without
// confirming the checksum, gets Content-MD5 instead from then on, as do
// all uploads when Options.ContentMD5 is set. Objects above
// Options.MultipartThreshold (64 MiB) go up in parts of Options.PartSize
// (16 MiB), each with its own Content-MD5; packs are smaller, so most
// uploads are one PUT. At most Options.Connections uploads run at once;
// reads are not limited here (their callers bound them).
//
// # Create and Remove
//
// Create first asks whether the object exists, then PUTs it with
// "If-None-Match: *", which servers that support conditional writes (AWS
// since 2024, MinIO, versitygw) refuse atomically when another creator got
// there first. A server that answers NotImplemented is remembered and then
// gets the plain Stat-then-PUT; so does one that ignores the header. On
// those, two creators racing within the moment between the Stat and the PUT
// may both succeed, the later one's data winning.
//
// S3 deletes a missing key without complaint, so Remove asks first to report
// ErrNotFound; two concurrent Removes of one object may both succeed.
//
// # Errors
//
// Missing keys are ErrNotFound, refused credentials or permissions
// ErrAccessDenied, other client errors that repeating cannot fix (a missing
// bucket, a malformed request, a TLS certificate not trusted here, https
// to a server that speaks plain HTTP) ErrPermanent. Everything else — network
// failures, 5xx answers, throttling, a damaged upload — is left for a retry
// filter; minio-go also retries such requests itself (Options.MaxRetries).
// A connection on which no byte moves for Options.IOTimeout fails, so a
// server that stops answering in the middle of a body fails the request
// rather than hanging it.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/cairn-backup/cairn/backends"
)

var (
	_ backends.Backend     = (*S3)(nil)
	_ backends.LoaderInto  = (*S3)(nil)
	_ backends.Checksummer = (*S3)(nil)
)

// Defaults for Options' zero fields.
const (
	DefaultConnections        = 5
	DefaultPartSize           = 16 << 20
	DefaultMultipartThreshold = 64 << 20
	DefaultRegion             = "us-east-1"

	// openTries is how many times Open and Create ask for the bucket when
	// minio-go does not retry (Options.MaxRetries 1).
	openTries = 3

	// idleConnsPerConnection is how many idle connections our transport
	// keeps per upload connection (Options.Connections).
	idleConnsPerConnection = 8
)

// Options tune the connection. The zero value takes credentials and region
// from the environment and the defaults above.
type Options struct {
	// AccessKey, SecretKey and SessionToken default to AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when AccessKey is empty,
	// and without those to the profile AWS_PROFILE (or "default") of the
	// shared AWS credentials and config files.
	AccessKey, SecretKey, SessionToken string
	// Region defaults to AWS_REGION, AWS_DEFAULT_REGION, the region of
	// the profile AWS_PROFILE (or "default") in the shared AWS files,
	// then us-east-1.
	Region string
	// VirtualHost addresses the bucket as a host name (bucket.host/key)
	// instead of in the path (host/bucket/key).
	VirtualHost bool
	// Connections limits the uploads running at once.
	Connections int
	// Objects larger than MultipartThreshold are uploaded in parts of
	// PartSize bytes (at least 5 MiB, S3's smallest part).
	PartSize, MultipartThreshold int64
	// ContentMD5 checks uploads with Content-MD5 rather than with a
	// CRC32C header, for servers that accept that header but ignore it
	// without saying so (those that say so are noticed by themselves).
	ContentMD5 bool
	// Transport carries the requests; nil means minio-go's default, with
	// enough idle connections kept for the reads and uploads in flight,
	// whose connections fail once no byte has moved on them for IOTimeout
	// (DefaultIOTimeout when zero).
	Transport http.RoundTripper
	IOTimeout time.Duration
	// MaxRetries is how many times minio-go tries a request that failed
	// for a passing reason, in all, before it reports the failure (zero:
	// minio-go's default, 10). A caller that retries on its own, and says
	// so, sets 1.
	MaxRetries int
	// OpenRetry, when set, is how Open and Create repeat their first
	// request, asking for the bucket, when it fails for a passing reason
	// (a throttled or briefly failing server): fn is called until it
	// returns nil or a backends.Permanent error, as the caller's retry
	// filter repeats every later call (see retry.Do). Unset, that request
	// is tried three times within about two seconds when MaxRetries is 1.
	OpenRetry func(ctx context.Context, fn func() error) error
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.AccessKey == "" {
		o.AccessKey = os.Getenv("AWS_ACCESS_KEY_ID")
		o.SecretKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
		o.SessionToken = os.Getenv("AWS_SESSION_TOKEN")
	}
	for _, region := range []func() string{
		func() string { return o.Region },
		func() string { return os.Getenv("AWS_REGION") },
		func() string { return os.Getenv("AWS_DEFAULT_REGION") },
		func() string { return profileSetting("region") },
		func() string { return DefaultRegion },
	} {
		if r := region(); r != "" {
			o.Region = r
			break
		}
	}
	if o.Connections <= 0 {
		o.Connections = DefaultConnections
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = DefaultIOTimeout
	}
	return o
}

// credentials returns o's keys or, when there are none, the profile
// AWS_PROFILE (or "default") of the shared AWS files, as the AWS CLI and
// restic read them: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials,
// and AWS_CONFIG_FILE or ~/.aws/config (with credential_process and SSO
// profiles, whose keys are fetched again when they expire; keys without an
// expiry are read again after sharedFilesRecheck).
func (o Options) credentials() (*credentials.Credentials, error) {
	if o.AccessKey != "" || o.SecretKey != "" {
		if o.AccessKey == "" || o.SecretKey == "" {
			return nil, errors.New("incomplete credentials: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
		}
		return credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken), nil
	}
	creds := credentials.New(&sharedFiles{file: &credentials.FileAWSCredentials{}})
	v, err := creds.Get()
	if err == nil && v.AccessKeyID != "" && v.SecretAccessKey != "" {
		return creds, nil
	}
	if profile := os.Getenv("AWS_PROFILE"); profile != "" {
		if err == nil {
			err = errors.New("it has no aws_access_key_id and aws_secret_access_key")
		}
		return nil, fmt.Errorf("no credentials from AWS_PROFILE %q: %v", profile, err)
	}
	return nil, errors.New("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give them in ~/.aws/credentials (AWS_PROFILE names another profile than default)")
}

// sharedFilesRecheck is how long keys without an expiry, read from the
// shared AWS files, are used before the files are read again.
const sharedFilesRecheck = time.Minute

// sharedFiles is minio-go's provider of the shared AWS files, but for keys
// without an expiry (the profile's own, or a credential_process's answer
// without an Expiration), which it takes as expired at once: it would read
// the files again, and run the credential_process, for every request. Such
// keys are kept for sharedFilesRecheck, so that keys a tool rewrites in
// ~/.aws/credentials still reach a long-running daemon. A Credentials
// serializes its calls.
type sharedFiles struct {
	file  *credentials.FileAWSCredentials
	until time.Time // zero: the keys expire as file says
}

func (p *sharedFiles) Retrieve() (credentials.Value, error) {
	return p.RetrieveWithCredContext(nil)
}

func (p *sharedFiles) RetrieveWithCredContext(cc *credentials.CredContext) (credentials.Value, error) {
	p.until = time.Time{}
	v, err := p.file.RetrieveWithCredContext(cc)
	if err != nil && err.Error() == errBareCredentialProcess {
		// minio-go runs no credential_process without arguments:
		// run it here, and keep its keys until their Expiration.
		if v, err = bareCredentialProcess(); err == nil && !v.Expiration.IsZero() {
			// As minio-go: fetched again at 80% of their lifetime.
			now := time.Now()
			p.until = now.Add(v.Expiration.Sub(now) * 4 / 5)
			return v, nil
		}
	}
	if err == nil && v.Expiration.IsZero() {
		p.until = time.Now().Add(sharedFilesRecheck)
	}
	return v, err
}

func (p *sharedFiles) IsExpired() bool {
	if !p.until.IsZero() {
		return !time.Now().Before(p.until)
	}
	return p.file.IsExpired()
}

// S3 is a repository under a prefix of a bucket. It is safe for concurrent
// use, also by several processes and hosts sharing the bucket.
type S3 struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string // "" or ending in "/"
	location string
	opts     Options
	uploads  chan struct{} // one token per running upload
	// closeIdle drops the idle connections of a transport we made.
	closeIdle func()

	// noConditional is set once the server has refused If-None-Match.
	noConditional atomic.Bool
	// md5Only is set when uploads are checked by Content-MD5, not CRC32C.
	md5Only atomic.Bool
}

// Open connects to the repository at location, "http(s)://host/bucket/prefix"
// with or without "s3:" in front, and checks that the bucket exists.
func Open(ctx context.Context, location string, opts Options) (*S3, error) {
	s, err := connect(location, opts)
	if err != nil {
		return nil, err
	}
	ok, err := s.bucketExists(ctx)
	var oerr openRetryErr
	switch {
	case err == nil && !ok:
		err = fmt.Errorf("open %s: bucket %q: %w (init creates it)", s.location, s.bucket, backends.ErrNotFound)
	case errors.As(err, &oerr):
		err = oerr.error
	case err != nil:
		err = mapErr("open "+s.location, "", err)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// bucketExists asks whether the bucket exists. The answer to a HEAD has no
// body, so its status is all minio-go sees of it: some servers answer 404
// for other reasons than a missing bucket (versitygw to an unknown access
// key), and a bare "400 Bad Request" does not say that the region is
// wrong. A 404 or another client error is asked again with a listing of
// at most one key under the prefix, whose answer says why; a listing that
// succeeds means that the bucket exists and that this key may use the
// prefix, though not ask about the whole bucket (a policy for one prefix
// of a shared bucket).
func (s *S3) bucketExists(ctx context.Context) (bool, error) {
	var ok bool
	var err error
	head := func() error {
		ok, err = s.client.BucketExists(ctx, s.bucket)
		if err != nil {
			return classify(err)
		}
		return nil
	}
	if rerr := s.retryFirst(ctx, head, func() error { return err }); rerr != nil {
		return false, rerr
	}
	var resp minio.ErrorResponse
	if ok || err != nil && (!errors.As(err, &resp) || resp.StatusCode < 400 || resp.StatusCode >= 500) {
		return ok, err
	}
	_, lerr := s.core.ListObjectsV2(s.bucket, s.prefix, "", "", "/", 1)
	switch {
	case lerr == nil:
		// Listed: the bucket exists, whatever the HEAD said (a 404
		// for an unknown key, or a 403 to a key that may list only
		// the repository's prefix, as restic needs no more to open).
		return true, nil
	case errorCode(lerr) == "NoSuchBucket":
		return false, nil
	}
	// No answer to the listing (the network, after minio-go's tries),
	// or a refusal: said as it is. The HEAD's 403 would make a passing
	// failure a permanent "access denied" for a key that may list only
	// the prefix, and its "no such bucket" would have init create one.
	return false, lerr
}

// retryFirst runs fn, one of the requests that open or create the
// repository, which come before any retry filter wraps the backend. It
// repeats fn with the caller's OpenRetry, with its backoff and notices, so
// that a server throttling (503 SlowDown) or failing for a few seconds
// does not stop the opening where it would stop no later call. Without
// OpenRetry, when minio-go was told not to retry, it tries a few times.
// fn keeps its own last error; last returns it, unclassified. The error
// returned, an openRetryErr, is OpenRetry's when ctx ended it or the tries
// ran out (it then says how many were made); a permanent failure is left
// to last, for the caller to look into.
func (s *S3) retryFirst(ctx context.Context, fn func() error, last func() error) error {
	if s.opts.OpenRetry != nil {
		if err := s.opts.OpenRetry(ctx, fn); err != nil && (ctx.Err() != nil || !backends.Permanent(err)) {
			return openRetryErr{err}
		}
		return nil
	}
	_ = fn()
	for try := 1; last() != nil && s.opts.MaxRetries == 1 && try < openTries && !backends.Permanent(classify(last())) && ctx.Err() == nil; try++ {
		time.Sleep(time.Duration(try) * 500 * time.Millisecond)
		_ = fn()
	}
	return nil
}

// openRetryErr is an error of Options.OpenRetry, which names the request
// and the location already: it is returned as it is.
type openRetryErr struct{ error }

func (e openRetryErr) Unwrap() error { return e.error }

// Create connects like Open, first creating the bucket (in the region) when
// it is missing.
func Create(ctx context.Context, location string, opts Options) (*S3, error) {
	s, err := connect(location, opts)
	if err != nil {
		return nil, err
	}
	ok, err := s.bucketExists(ctx)
	var oerr openRetryErr
	if errors.As(err, &oerr) {
		err = oerr.error
	} else if err != nil {
		err = mapErr("create "+s.location, "", err)
	} else if !ok {
		mkBucket := func() error {
			err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.opts.Region})
			if errorCode(err) == "BucketAlreadyOwnedByYou" {
				// Made by someone else meanwhile, or by our own
				// try whose answer was lost.
				err = nil
			}
			if err != nil {
				return classify(err)
			}
			return nil
		}
		if rerr := s.retryFirst(ctx, mkBucket, func() error { return err }); rerr != nil {
			err = rerr.(openRetryErr).error
		} else if err != nil {
			err = mapErr("create bucket "+s.bucket+" at "+s.location, "", err)
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// connect parses location and makes the client; it sends nothing.
func connect(location string, opts Options) (*S3, error) {
	endpoint, bucket, prefix, err := ParseLocation(location)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	creds, err := opts.credentials()
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", location, err)
	}
	if opts.PartSize < 5<<20 {
		return nil, fmt.Errorf("s3 %s: part size %d is below S3's minimum of 5 MiB", location, opts.PartSize)
	}
	closeIdle := func() {}
	if opts.Transport == nil {
		// Our own, so that Close can drop its idle connections.
		t, err := minio.DefaultTransport(endpoint.Scheme == "https")
		if err != nil {
			return nil, fmt.Errorf("s3 %s: %w", location, err)
		}
		// Readers keep several requests per upload connection on their
		// way (restore: four per connection): keep that many idle
		// connections, not minio-go's 16, or every request beyond them
		// costs a new connection.
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, idleConnsPerConnection*opts.Connections)
		t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
		t.DialContext = idleDialer(t.DialContext, opts.IOTimeout)
		opts.Transport, closeIdle = t, t.CloseIdleConnections
	}
	lookup := minio.BucketLookupPath
	if opts.VirtualHost {
		if net.ParseIP(endpoint.Hostname()) != nil {
			// minio-go would ask DNS for "bucket.127.0.0.1", again
			// and again.
			return nil, fmt.Errorf("s3 %s: virtual-host addressing (bucket.host) needs a host name, not the IP address %s: address the bucket in the path instead", location, endpoint.Hostname())
		}
		lookup = minio.BucketLookupDNS
	}
	client, err := minio.New(endpoint.Host, &minio.Options{
		Creds:        creds,
		Secure:       endpoint.Scheme == "https",
		Transport:    opts.Transport,
		Region:       opts.Region,
		BucketLookup: lookup,
		MaxRetries:   opts.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 %s: %w", location, err)
	}
	loc := "s3:" + endpoint.Scheme + "://" + endpoint.Host + "/" + bucket
	if prefix != "" {
		loc += "/" + strings.TrimSuffix(prefix, "/")
	}
	s := &S3{
		client:    client,
		core:      minio.Core{Client: client},
		bucket:    bucket,
		prefix:    prefix,
		location:  loc,
		opts:      opts,
		uploads:   make(chan struct{}, opts.Connections),
		closeIdle: closeIdle,
	}
	s.md5Only.Store(opts.ContentMD5)
	return s, nil
}

// ParseLocation splits "[s3:]http(s)://host[:port]/bucket[/prefix]" into
// the endpoint, the bucket and the key prefix ("" or ending in "/"). As in
// restic, "s3:host[:port]/bucket[/prefix]" (no "http(s)://"), or
// "s3://host[:port]/bucket[/prefix]", means https;
// its host must then look like one (hold a "." or a port, or be
// "localhost"), so that "s3:bucket/prefix" is not read as host "bucket".
func ParseLocation(location string) (endpoint *url.URL, bucket, prefix string, err error) {
	bad := func(why string) (*url.URL, string, string, error) {
		return nil, "", "", fmt.Errorf("s3 location %q: %s (want s3:http(s)://host[:port]/bucket[/prefix], or s3:host[:port]/bucket[/prefix] for https)", location, why)
	}
	rest := strings.TrimPrefix(location, "s3:")
	slashes := strings.HasPrefix(rest, "//")
	if slashes {
		// restic reads "s3://host/bucket" as "s3:host/bucket".
		rest = rest[2:]
	}
	if !strings.Contains(rest, "://") {
		lower := strings.ToLower(rest)
		if strings.HasPrefix(lower, "http:") || strings.HasPrefix(lower, "https:") {
			return bad("the endpoint must start with http:// or https://")
		}
		host, _, _ := strings.Cut(rest, "/")
		if host == "" {
			return bad("no host")
		}
		if !strings.ContainsAny(host, ".:[") && !strings.EqualFold(host, "localhost") {
			if slashes {
				// The AWS CLI's "s3://bucket/prefix": its bucket
				// is no host, and pointing to s3:https://bucket
				// would misread it again.
				return bad(fmt.Sprintf("%q is not a host name: s3:// names the server first, then the bucket; for the bucket %q on AWS write s3:s3.amazonaws.com/%s", host, host, rest))
			}
			return bad(fmt.Sprintf("%q is not a host name: write s3:https://%s for a host without a dot", host, rest))
		}
		rest = "https://" + rest
	}
	u, err := url.Parse(rest)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("the endpoint must start with http:// or https://")
	}
	if u.Host == "" {
		return bad("no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("credentials, queries and fragments do not belong in it")
	}
	bucket, prefix, _ = strings.Cut(strings.Trim(u.Path, "/"), "/")
	if bucket == "" {
		return bad("no bucket")
	}
	if err := s3utils.CheckValidBucketName(bucket); err != nil {
		return bad(fmt.Sprintf("bucket %q: %v", bucket, err))
	}
	if prefix != "" {
		if err := backends.CheckName(prefix); err != nil {
			return bad("bad prefix: " + err.Error())
		}
		prefix += "/"
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, bucket, prefix, nil
}

// Location returns "s3:", the endpoint, the bucket and the prefix.
func (s *S3) Location() string { return s.location }

// Close drops idle connections; minio-go holds nothing else.
func (s *S3) Close() error {
	s.closeIdle()
	return nil
}

// key maps a valid object name to its key in the bucket.
func (s *S3) key(name string) string { return s.prefix + name }

// check validates ctx and name before an operation called op.
func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := backends.CheckName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Connections is how many uploads may run at once: writers keep that many
// on their way (backends.Parallel).
func (s *S3) Connections() int { return cap(s.uploads) }
