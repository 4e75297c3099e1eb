package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

// TestNoLockReadOnlyBucket: a key that may only read the bucket cannot
// write a lock. The commands that only read say so and point to --no-lock,
// as on a read-only mount, and with it they list and restore.
func TestNoLockReadOnlyBucket(t *testing.T) {
	srv := s3test.NewIAM(t)
	c := newCLIAt(t, srv.Location("ro"), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 10<<10, 7)
	c.ok("ingest", "-q", src)

	if err := srv.AddReadOnlyUser(t.Context(), "reader", "reader-secret-key"); err != nil {
		t.Fatal(err)
	}
	r := newCLIAt(t, srv.Location("ro"), "AWS_ACCESS_KEY_ID=reader", "AWS_SECRET_ACCESS_KEY=reader-secret-key", "AWS_DEFAULT_REGION="+srv.Region)
	r.env = append(r.env, "CAIRN_PASSWORD_FILE="+c.passwordFile())
	for _, args := range [][]string{{"snapshots"}, {"ls", "latest"}} {
		stderr, code := r.stderrOf(args...)
		if code != 1 || !strings.Contains(stderr, "access denied") || !strings.Contains(stderr, "--no-lock reads without one") {
			t.Fatalf("cairn %v with a read-only key: exit %d, stderr %q: want 1 and a pointer to --no-lock", args, code, stderr)
		}
	}
	if out := r.ok("--no-lock", "snapshots"); !strings.Contains(out, "1 snapshot") {
		t.Fatalf("snapshots --no-lock with a read-only key: %q", out)
	}
	dst := t.TempDir()
	r.ok("--no-lock", "restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
}

// TestS3KeyForOnePrefix: a key that may use only the keys under the
// repository's prefix of a shared bucket, not ask whether the bucket exists
// (S3's HEAD needs leave to list all of it), inits, ingests, lists and
// restores.
func TestS3KeyForOnePrefix(t *testing.T) {
	srv := s3test.NewIAM(t)
	if err := srv.AddPrefixUser(t.Context(), "host1", "host1-secret-key", "host1/"); err != nil {
		t.Fatal(err)
	}
	c := newCLIAt(t, srv.Location("host1"), "AWS_ACCESS_KEY_ID=host1", "AWS_SECRET_ACCESS_KEY=host1-secret-key", "AWS_DEFAULT_REGION="+srv.Region)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 10<<10, 7)
	c.ok("ingest", "-q", src)
	if out := c.ok("snapshots"); !strings.Contains(out, "1 snapshot") {
		t.Fatalf("snapshots with a key for one prefix: %q", out)
	}
	dst := t.TempDir()
	c.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)

	// Outside its prefix the key is refused, and says so.
	other := newCLIAt(t, srv.Location("host2"), "AWS_ACCESS_KEY_ID=host1", "AWS_SECRET_ACCESS_KEY=host1-secret-key", "AWS_DEFAULT_REGION="+srv.Region)
	if stderr, code := other.stderrOf("init", "--insecure-kdf"); code != 1 || !strings.Contains(stderr, "access denied") {
		t.Fatalf("init outside the key's prefix: exit %d, stderr %q", code, stderr)
	}
}
