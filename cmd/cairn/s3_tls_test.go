package main

import (
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

// TestS3TLS: a server whose certificate comes from a private authority is
// used once SSL_CERT_FILE names that authority, also through the
// "s3:host:port/bucket" form, which means https. Without it, or with the
// scheme wrong, cairn says what is wrong at once, in one line, rather than
// retrying a refusal that another try cannot change.
func TestS3TLS(t *testing.T) {
	srv := s3test.NewTLS(t)
	host := strings.TrimPrefix(srv.Endpoint, "https://")

	untrusted := newCLIAt(t, srv.Location("tls"), append(s3Env(srv), "SSL_CERT_FILE=")...)
	stderr, code := untrusted.stderrOf("init", "--insecure-kdf")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
		!strings.Contains(stderr, "certificate") || !strings.Contains(stderr, "SSL_CERT_FILE") {
		t.Fatalf("init against an untrusted certificate: exit %d, want 1 with one line naming the certificate and SSL_CERT_FILE:\n%s", code, stderr)
	}

	c := newCLIAt(t, "s3:"+host+"/"+srv.Bucket+"/tls", append(s3Env(srv), "SSL_CERT_FILE="+srv.CAFile)...)
	c.ok("init", "--insecure-kdf")
	c.ok("ingest", t.TempDir())
	if out := c.ok("snapshots"); !strings.Contains(out, "1 snapshot") {
		t.Fatalf("snapshots over TLS:\n%s", out)
	}

	// restic's "s3://host/bucket" means https too.
	slashes := newCLIAt(t, "s3://"+host+"/"+srv.Bucket+"/tls", append(s3Env(srv), "SSL_CERT_FILE="+srv.CAFile)...)
	if out := slashes.ok("snapshots"); !strings.Contains(out, "1 snapshot") {
		t.Fatalf("snapshots through s3://host/bucket:\n%s", out)
	}

	plain := newCLIAt(t, "s3:http://"+host+"/"+srv.Bucket+"/tls", s3Env(srv)...)
	if _, code := plain.stderrOf("snapshots"); code == 0 {
		t.Fatal("plain HTTP to a TLS server succeeded")
	}

	httpSrv := s3test.New(t)
	wrong := newCLIAt(t, "s3:https://"+strings.TrimPrefix(httpSrv.Endpoint, "http://")+"/"+httpSrv.Bucket+"/x", s3Env(httpSrv)...)
	stderr, code = wrong.stderrOf("snapshots")
	if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "s3:http://") {
		t.Fatalf("https to a plain HTTP server: exit %d, want 1 with one line pointing to s3:http://:\n%s", code, stderr)
	}
}
