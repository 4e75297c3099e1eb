package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With its retry filter around S3, cairn keeps minio-go from retrying on
// its own: minio-go's ten silent tries of each request would come before
// the filter's first notice, so a server that stops answering would be
// reported only after ten I/O timeouts.
func TestStorageOptionsRetryOnce(t *testing.T) {
	for _, c := range []struct {
		retries    int
		minioTries int
	}{{6, 1}, {1, 0}} {
		g := &globals{cacheDir: t.TempDir()}
		g.storage = storageFlags{connections: 5, retries: c.retries}
		o, err := g.storageOptions("s3:http://127.0.0.1:1/bucket/prefix")
		if err != nil {
			t.Fatal(err)
		}
		if o.S3.MaxRetries != c.minioTries || (o.Filters.Retry != nil) != (c.retries > 1) {
			t.Errorf("--retries %d: minio-go's MaxRetries %d, retry filter %v; want %d, %v",
				c.retries, o.S3.MaxRetries, o.Filters.Retry != nil, c.minioTries, c.retries > 1)
		}
	}
}

// A cairn-UID folder in the temporary folder that others may write (made
// ahead by another user) is not used for the S3 metadata cache, but it
// does not stop the run either: any user could otherwise stop a cron
// job's nightly backup by making it.
func TestStorageOptionsUntrustedTempCache(t *testing.T) {
	planted := plantTempCache(t)
	if err := os.Chmod(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	g := &globals{quiet: true}
	g.storage = storageFlags{connections: 5, retries: 12, metaCache: true}
	o, err := g.storageOptions("s3:http://127.0.0.1:1/bucket/prefix")
	if err != nil {
		t.Fatalf("a planted cache folder stopped the run: %v", err)
	}
	if o.Filters.CacheDir != "" {
		t.Errorf("metadata cache in %s, inside the untrusted %s", o.Filters.CacheDir, planted)
	}
}

// The daemon keeps when check and prune last ran beside the local index.
// Under a service manager without HOME that is the temporary folder's
// cairn-UID, which another user may have made: since that no longer stops
// the daemon, its state must not be written there (a link planted as the
// state file's .tmp would have root overwrite any file) or read from there.
func TestDaemonStateDirUntrustedTempCache(t *testing.T) {
	planted := plantTempCache(t)
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
	if got := daemonStateDir("", logf); got != planted {
		t.Fatalf("own private folder: state in %q, want %q", got, planted)
	}
	if err := os.Chmod(planted, 0o777); err != nil {
		t.Fatal(err)
	}
	if got := daemonStateDir("", logf); got != "" {
		t.Fatalf("daemon state kept in %q, a folder others may write", got)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "not a private folder") {
		t.Errorf("logged %q, want why the state is not kept", logged)
	}
	if got := daemonStateDir("/chosen", logf); got != "/chosen" {
		t.Errorf("with a cache folder given: %q", got)
	}
}

// plantTempCache runs the test as cron would (no HOME, no XDG cache
// folder), with a temporary folder of its own, in which it makes the
// cairn-UID folder the default cache would be, as another user could
// ahead of time. It returns that folder.
func plantTempCache(t *testing.T) string {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	planted := filepath.Join(tmp, fmt.Sprintf("cairn-%d", os.Geteuid()))
	if err := os.Mkdir(planted, 0o700); err != nil {
		t.Fatal(err)
	}
	return planted
}
