package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

// bucketObjects is the S3 test server's bucket, as another S3 client sees
// it: to damage stored objects behind cairn's back.
type bucketObjects struct {
	t      *testing.T
	client *minio.Client
	bucket string
	prefix string
}

func newBucketObjects(t *testing.T, srv *s3test.Server, prefix string) *bucketObjects {
	client, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	return &bucketObjects{t: t, client: client, bucket: srv.Bucket, prefix: prefix}
}

// names lists the stored objects under folder ("snapshots/", "tree/").
func (b *bucketObjects) names(folder string) []string {
	var out []string
	for oi := range b.client.ListObjects(context.Background(), b.bucket, minio.ListObjectsOptions{Prefix: b.prefix + "/" + folder, Recursive: true}) {
		if oi.Err != nil {
			b.t.Fatal(oi.Err)
		}
		out = append(out, strings.TrimPrefix(oi.Key, b.prefix+"/"))
	}
	if len(out) == 0 {
		b.t.Fatalf("no object under %s", folder)
	}
	return out
}

// flip stores the object name again with its middle byte inverted.
func (b *bucketObjects) flip(name string) {
	ctx := context.Background()
	o, err := b.client.GetObject(ctx, b.bucket, b.prefix+"/"+name, minio.GetObjectOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	data, err := io.ReadAll(o)
	o.Close()
	if err != nil {
		b.t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if _, err := b.client.PutObject(ctx, b.bucket, b.prefix+"/"+name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		b.t.Fatal(err)
	}
}

// cacheCopies returns the local metadata-cache copies of objects under
// folder ("snapshots/", "tree/", "index/") kept for the repository.
func cacheCopies(t *testing.T, c *cli, folder string) []string {
	t.Helper()
	var cacheDir string
	for _, e := range c.env {
		if v, ok := strings.CutPrefix(e, "CAIRN_CACHE_DIR="); ok {
			cacheDir = v
		}
	}
	var out []string
	filepath.WalkDir(filepath.Join(cacheDir, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(p), "/"+folder) && !strings.Contains(p, "/.tmp/") {
			out = append(out, p)
		}
		return nil
	})
	if len(out) == 0 {
		t.Fatalf("no cached copy under %s", folder)
	}
	return out
}

func flipFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestS3CheckAndRepairReadStorage: check and repair judge the objects in
// the bucket, not this host's copies of them (the metadata cache). A
// damaged copy of an intact snapshot made check report it damaged, and
// `repair snapshots --forget`, as check advised, then deleted the intact
// snapshot from the bucket; and check --read-data passed a bucket whose
// tree pack and snapshot were damaged, reading the intact copies.
func TestS3CheckAndRepairReadStorage(t *testing.T) {
	srv := s3test.New(t)
	c := newCLIAt(t, srv.Location("cached"), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, filepath.Join(src, "data"), 3, 200<<10, 11)
	writeRandomFiles(t, filepath.Join(src, "more"), 3, 2000, 12)
	c.ok("ingest", src)

	// This host's copies are damaged; the bucket is intact.
	for _, folder := range []string{"snapshots/", "tree/", "index/"} {
		for _, p := range cacheCopies(t, c, folder) {
			flipFile(t, p)
		}
	}
	if out, code := c.run("check", "--read-data"); code != 0 || lastLine(out) != "no errors found" {
		t.Fatalf("check of an intact bucket with damaged local copies: exit %d\n%s", code, out)
	}
	out := c.ok("repair", "snapshots", "--forget")
	if strings.Contains(out, "forgotten") || strings.Contains(out, "forgot") {
		t.Fatalf("repair snapshots --forget forgot an intact snapshot:\n%s", out)
	}
	c.ok("repair", "index", "--read-data")
	dst := filepath.Join(t.TempDir(), "dst")
	c.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
	c.ok("check", "--read-data")

	// Now the other way round: the bucket's tree pack and snapshot are
	// damaged, this host's copies intact.
	bucket := newBucketObjects(t, srv, "cached")
	fresh := newCLIAt(t, srv.Location("cached"), s3Env(srv)...)
	fresh.ok("restore", "latest:"+src, "--target", filepath.Join(t.TempDir(), "fill")) // fills its cache
	for _, folder := range []string{"snapshots/", "tree/"} {
		for _, name := range bucket.names(folder) {
			bucket.flip(name)
		}
	}
	out = wantExit(t, fresh, 1, "check", "--read-data")
	for _, folder := range []string{"snapshots/", "tree/"} {
		for _, name := range bucket.names(folder) {
			if !strings.Contains(out, name) {
				t.Errorf("check --read-data does not name the damaged %s:\n%s", name, out)
			}
		}
	}
}

// remove deletes the object name from the bucket.
func (b *bucketObjects) remove(name string) {
	if err := b.client.RemoveObject(context.Background(), b.bucket, b.prefix+"/"+name, minio.RemoveObjectOptions{}); err != nil {
		b.t.Fatal(err)
	}
}

// TestS3LostTreePacksStoredAgainFromCopies: tree packs the bucket lost are
// still whole in the metadata cache of the host that wrote them, which
// restores from them. check says so, and `repair index` stores them again
// (before, it dropped them from the index and `repair snapshots` then cut
// every snapshot down to nothing), so that any other host restores again.
func TestS3LostTreePacksStoredAgainFromCopies(t *testing.T) {
	srv := s3test.New(t)
	c := newCLIAt(t, srv.Location("lost"), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, filepath.Join(src, "data"), 3, 200<<10, 13)
	writeRandomFiles(t, filepath.Join(src, "more"), 3, 2000, 14)
	c.ok("ingest", src)

	bucket := newBucketObjects(t, srv, "lost")
	lost := bucket.names("tree/")
	for _, name := range lost {
		bucket.remove(name)
	}
	c.ok("restore", "latest:"+src, "--target", filepath.Join(t.TempDir(), "from-copies"))

	out := wantExit(t, c, 1, "check")
	for _, name := range lost {
		if !strings.Contains(out, name+": missing") {
			t.Errorf("check does not name the lost %s:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "this host's metadata cache keeps a copy of it, which `cairn repair index` stores again") {
		t.Fatalf("check does not say the lost tree packs have copies:\n%s", out)
	}
	out = c.ok("repair", "index")
	if strings.Count(out, "stored again from this host's metadata cache") != len(lost) || strings.Contains(out, "dropped") {
		t.Fatalf("repair index:\n%s", out)
	}
	if got := bucket.names("tree/"); len(got) != len(lost) {
		t.Fatalf("tree packs in the bucket after the repair: %v, want %v", got, lost)
	}

	other := newCLIAt(t, srv.Location("lost"), s3Env(srv)...)
	if out, code := other.run("check", "--read-data"); code != 0 || lastLine(out) != "no errors found" {
		t.Fatalf("check --read-data from another host after the repair: exit %d\n%s", code, out)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	other.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
}
