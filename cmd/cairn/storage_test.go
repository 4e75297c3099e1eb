package main

import "testing"

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
