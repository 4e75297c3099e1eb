package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

// restartOutage is how long the server stays away: longer than the waits
// of the old default of six tries (at most 7.75 s), so that with those the
// ingest gives up, and no longer, since the test waits it out.
const restartOutage = 11 * time.Second

// TestS3ServerRestartMidIngest: the S3 server crashes while an ingest
// uploads packs and is back restartOutage later, as a MinIO restarted by
// its supervisor or a load balancer failing over. With the default options
// the ingest rides it out and saves a snapshot that restores whole. It used
// to give up after six tries over about eight seconds and exit 1, so a
// nightly backup failed on any outage longer than that (restic keeps
// trying for 15 minutes).
//
// The ingest reads a stream that the test ends only once the server is
// gone, so its last pack, index and snapshot are written into the outage
// whatever the speed of the machine.
func TestS3ServerRestartMidIngest(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("restarts an S3 server under a running ingest")
	}
	srv := s3test.New(t)
	c := newCLIAt(t, srv.Location("restart"), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	stream := make([]byte, 40<<20) // two packs and a half
	rand.NewChaCha8([32]byte{21}).Read(stream)
	const before = 32 << 20 // a pack of 16 MiB fills whatever the cut points

	client, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	cmd := c.cmd("ingest", "--stdin", "--stdin-name", "dump", "--host", "h", "--source", "s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if _, err := in.Write(stream[:before]); err != nil {
		t.Fatalf("write the stream's start: %v\n%s", err, stderr.String())
	}
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
	srv.Stop()
	if _, err := in.Write(stream[before:]); err != nil {
		t.Fatalf("write the stream's end: %v\n%s", err, stderr.String())
	}
	in.Close()
	select {
	case err := <-done:
		t.Fatalf("ingest ended while the server was away (%v):\n%s", err, stderr.String())
	case <-time.After(restartOutage):
	}
	if err := srv.Relaunch(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ingest across a %v server restart: %v\n%s", restartOutage, err, stderr.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("ingest did not end within 5 minutes of the server's return:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "saved") {
		t.Fatalf("no snapshot saved:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "connection refused); try ") {
		t.Errorf("the retries were not reported on stderr:\n%s", stderr.String())
	}
	c.ok("check", "--read-data")
	if got := c.ok("dump", "latest:dump"); got != string(stream) {
		t.Errorf("the snapshot's stream has %d bytes and differs from the %d written", len(got), len(stream))
	}
}
