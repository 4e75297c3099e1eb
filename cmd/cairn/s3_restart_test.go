package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

// TestS3ServerRestartMidIngest: the S3 server crashes while an ingest
// uploads packs and is back 20 seconds later, as a MinIO restarted by its
// supervisor or a load balancer failing over. With the default options the
// ingest rides it out and saves a snapshot that restores whole. It used to
// give up after six tries over about eight seconds and exit 1, so a
// nightly backup failed on any outage longer than that (restic keeps
// trying for 15 minutes).
func TestS3ServerRestartMidIngest(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("restarts an S3 server under a running ingest")
	}
	srv := s3test.New(t)
	c := newCLIAt(t, srv.Location("restart"), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 8, 4<<20, 21)

	client, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	// Slow enough that the outage falls in the middle of the uploads.
	cmd := c.cmd("ingest", src, "--host", "h", "--source", "s", "--limit-bytes", "4MiB")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait for the first pack to land, then take the server away.
	deadline := time.Now().Add(60 * time.Second)
	for uploaded := false; !uploaded; {
		for obj := range client.ListObjects(t.Context(), srv.Bucket, minio.ListObjectsOptions{Prefix: "restart/data/", Recursive: true}) {
			if obj.Err == nil {
				uploaded = true
			}
		}
		select {
		case err := <-done:
			t.Fatalf("ingest ended before the server went away (%v):\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pack uploaded within 60s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.Restart(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ingest across a 20 s server restart: %v\n%s", err, stderr.String())
		}
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("ingest did not end within 5 minutes of the server's return:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "saved") {
		t.Fatalf("no snapshot saved:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "failed") {
		t.Errorf("the retries were not reported on stderr:\n%s", stderr.String())
	}
	c.ok("check", "--read-data")
	dst := filepath.Join(t.TempDir(), "dst")
	c.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
}
