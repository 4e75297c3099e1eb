package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-backup/cairn/backends/s3/s3test"
)

func s3Env(srv *s3test.Server) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey, "AWS_DEFAULT_REGION=" + srv.Region}
}

// TestS3IngestRestore: a repository in a real S3 server on loopback, used
// through the CLI: init, ingest, snapshots, restore equal to the source, and
// the mount.
func TestS3IngestRestore(t *testing.T) {
	srv := s3test.New(t)
	c := newCLIAt(t, srv.Location("e2e"), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, filepath.Join(src, "data"), 4, 3<<20, 7) // several packs' worth
	writeRandomFiles(t, filepath.Join(src, "small"), 10, 2000, 8)
	os.Symlink("data/fa", filepath.Join(src, "link"))
	c.ok("ingest", src, "--host", "h", "--source", "s")
	dst := filepath.Join(t.TempDir(), "dst")
	c.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
	if _, err := exec.LookPath("rsync"); err == nil {
		out, _ := exec.Command("rsync", "-aHAXn", "-i", "--numeric-ids", "--delete", src+"/", dst+"/").CombinedOutput()
		if len(out) > 0 {
			t.Fatalf("rsync lists differences after a restore from S3:\n%s", out)
		}
	}
	// A second ingest of unchanged files stores no data.
	out := c.ok("ingest", src, "--host", "h", "--source", "s", "--json")
	if !strings.Contains(out, `"data_blobs":0`) {
		t.Fatalf("unchanged re-ingest into S3 stored data: %s", out)
	}
}

// TestS3TwoWriters: two hosts, each with its own local index, ingest into
// one S3 repository at the same time. Both snapshots land, each host lists
// and restores the other's, and data the first stored is not stored again
// by a later ingest of the second host.
func TestS3TwoWriters(t *testing.T) {
	srv := s3test.New(t)
	loc := srv.Location("shared")
	a := newCLIAt(t, loc, s3Env(srv)...)
	a.ok("init", "--insecure-kdf")
	b := newCLIAt(t, loc, s3Env(srv)...)

	base := t.TempDir()
	srcA, srcB := filepath.Join(base, "a"), filepath.Join(base, "b")
	writeRandomFiles(t, srcA, 6, 2<<20, 1)
	writeRandomFiles(t, srcB, 6, 2<<20, 2)
	var wg sync.WaitGroup
	for _, w := range []struct {
		c    *cli
		src  string
		host string
	}{{a, srcA, "host-a"}, {b, srcB, "host-b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, code := w.c.run("ingest", w.src, "--host", w.host, "--source", "s"); code != 0 {
				t.Errorf("concurrent ingest on %s: exit %d", w.host, code)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, c := range []*cli{a, b} {
		var snaps []map[string]any
		if err := json.Unmarshal([]byte(c.ok("snapshots", "--json")), &snaps); err != nil || len(snaps) != 2 {
			t.Fatalf("snapshots: %d (%v)", len(snaps), err)
		}
	}
	// Each host restores the other's snapshot.
	for _, x := range []struct {
		c    *cli
		host string
		src  string
	}{{a, "host-b", srcB}, {b, "host-a", srcA}} {
		dst := filepath.Join(t.TempDir(), "dst")
		x.c.ok("restore", "latest:"+x.src, "--host", x.host, "--target", dst)
		sameFiles(t, x.src, dst)
	}
	// Host b now backs up a copy of a's files: they are in the repository
	// already, and b sees them.
	copyA := filepath.Join(base, "copy-of-a")
	if out, err := exec.Command("cp", "-a", srcA, copyA).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	out := b.ok("ingest", copyA, "--host", "host-b", "--source", "copy", "--json")
	if !strings.Contains(out, `"data_blobs":0`) {
		t.Fatalf("host b stored host a's data again: %s", out)
	}
}

// TestS3Mount: the tree mounted from an S3 repository shows a snapshot
// written by another host while mounted.
func TestS3Mount(t *testing.T) {
	requireFUSE(t)
	srv := s3test.New(t)
	loc := srv.Location("mount")
	a := newCLIAt(t, loc, s3Env(srv)...)
	a.ok("init", "--insecure-kdf")
	b := newCLIAt(t, loc, s3Env(srv)...)
	src := t.TempDir()
	writeRandomFiles(t, src, 2, 100_000, 3)
	a.ok("ingest", src, "--host", "a")
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	cmd, _ := a.startMount(mnt)
	defer func() { cmd.Process.Signal(os.Interrupt); exitCodeOf(t, cmd, 10*time.Second) }()
	sameFiles(t, src, filepath.Join(mnt, "latest"))
	os.WriteFile(filepath.Join(src, "new"), []byte("from b"), 0o644)
	b.ok("ingest", src, "--host", "b")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, err := os.ReadFile(filepath.Join(mnt, "hosts", "b", "default", "latest", "new")); err == nil && string(got) == "from b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("host b's snapshot did not appear in host a's mount within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestS3Copy keeps an offsite copy: snapshots of a local repository copied
// into a real S3 server, again after a change (reading only what changed),
// and back from S3 into a fresh local repository, as after losing the
// first one. Each copy restores to the source's files, attributes
// included.
func TestS3Copy(t *testing.T) {
	srv := s3test.New(t)
	local := newCLIAt(t, filepath.Join(t.TempDir(), "repo"))
	local.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, filepath.Join(src, "data"), 3, 3<<20, 11)
	writeRandomFiles(t, filepath.Join(src, "small"), 20, 3000, 12)
	os.Symlink("data/fa", filepath.Join(src, "link"))
	local.ok("ingest", src, "--host", "h", "--source", "s")

	fromLocal := []string{"--from-repo", local.repoDir(), "--from-password-file", local.passwordFile()}
	offsite := newCLIAt(t, srv.Location("offsite"), s3Env(srv)...)
	offsite.ok("init", "--insecure-kdf")
	offsite.ok(append([]string{"copy"}, fromLocal...)...)

	// One file changes: the next copy reads its changed chunk only.
	f, err := os.OpenFile(filepath.Join(src, "small", "fd"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("changed")
	f.Close()
	local.ok("ingest", src, "--host", "h", "--source", "s")
	out := offsite.ok(append([]string{"copy", "--json"}, fromLocal...)...)
	var copied struct {
		BlobsRead int `json:"blobs_read"`
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, `"copied_snapshot"`) {
			json.Unmarshal([]byte(l), &copied)
		}
	}
	if copied.BlobsRead != 1 {
		t.Fatalf("second copy read %d blobs, want the changed file's one:\n%s", copied.BlobsRead, out)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	offsite.ok("restore", "latest:"+src, "--target", dst)
	rsyncSame(t, src, dst)

	// Back from S3 into a new local repository.
	back := newCLIAt(t, filepath.Join(t.TempDir(), "back"), s3Env(srv)...)
	back.ok("init", "--insecure-kdf")
	back.ok("copy", "--from-repo", srv.Location("offsite"), "--from-password-file", offsite.passwordFile())
	if out := back.ok("snapshots", "--json"); strings.Count(out, `"copied_from"`) != 2 || strings.Count(out, `"id"`) != 2 {
		t.Fatalf("snapshots copied back: %s", out)
	}
	dst2 := filepath.Join(t.TempDir(), "dst2")
	back.ok("restore", "latest:"+src, "--target", dst2)
	rsyncSame(t, src, dst2)
	back.ok("check", "--read-data")
}

// rsyncSame fails the test when rsync -aHAX finds anything to change.
func rsyncSame(t *testing.T, src, dst string) {
	t.Helper()
	sameFiles(t, src, dst)
	if _, err := exec.LookPath("rsync"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rsync is not installed (make deps installs it)")
		}
		return
	}
	out, _ := exec.Command("rsync", "-aHAXn", "-i", "--numeric-ids", "--delete", src+"/", dst+"/").CombinedOutput()
	if len(out) > 0 {
		t.Fatalf("rsync lists differences:\n%s", out)
	}
}

// putForeign stores small objects under keys in srv's bucket, as another
// tool sharing the bucket would.
func putForeign(t *testing.T, srv *s3test.Server, keys ...string) *minio.Client {
	t.Helper()
	client, err := minio.New(strings.TrimPrefix(srv.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := client.PutObject(t.Context(), srv.Bucket, k, strings.NewReader("not cairn's\n"), -1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return client
}

// TestS3InitBucketRootSharedWithOtherTool: another tool's files under
// folder names a repository also uses ("data/", "snapshots/", "index/",
// "tree/") at the root of a bucket are not a repository that lost its
// config. Init used to refuse the bucket (exit 1, "holds a repository's
// snapshots/ but no config: the config was lost").
func TestS3InitBucketRootSharedWithOtherTool(t *testing.T) {
	srv := s3test.New(t)
	putForeign(t, srv, "data/report.csv", "snapshots/2026-11-01.json", "index/catalog.db", "tree/ab/leaf.txt")
	c := newCLIAt(t, srv.Location(""), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 5000, 3)
	c.ok("ingest", src, "--host", "h", "--source", "s")
	dst := filepath.Join(t.TempDir(), "dst")
	c.ok("restore", "latest:"+src, "--target", dst)
	sameFiles(t, src, dst)
}

// TestS3LocksFolderSharedWithOtherTool: an object under "locks/" that is
// not named as a lock (another tool's, at the root of a shared bucket) is
// no lock of the repository's. Prune used to refuse with exit 11 (an
// "unreadable lock object") and unlock --remove-all deleted the other
// tool's object.
func TestS3LocksFolderSharedWithOtherTool(t *testing.T) {
	srv := s3test.New(t)
	c := newCLIAt(t, srv.Location(""), s3Env(srv)...)
	c.ok("init", "--insecure-kdf")
	client := putForeign(t, srv, "locks/deploy.lock")
	src := filepath.Join(t.TempDir(), "src")
	writeRandomFiles(t, src, 3, 5000, 4)
	c.ok("ingest", src, "--host", "h", "--source", "s")
	c.ok("prune")
	c.ok("unlock", "--remove-all")
	if _, err := client.StatObject(t.Context(), srv.Bucket, "locks/deploy.lock", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("another tool's locks/deploy.lock after cairn unlock --remove-all: %v", err)
	}
}
