package ingest_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// dataWritesFail fails every data pack upload, as a full disk does.
type dataWritesFail struct{ backends.Backend }

func (b dataWritesFail) Save(ctx context.Context, name string, data []byte) error {
	if strings.HasPrefix(name, "data/") {
		return errors.New("no space left on device")
	}
	return b.Backend.Save(ctx, name, data)
}

// countingReader yields n pseudo-random bytes, counting those read.
type countingReader struct {
	r    io.Reader
	left int64
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	c.read.Add(int64(n))
	return n, err
}

// A stream whose chunks cannot be stored stops being read: the ingest
// fails at once, not after reading a database dump of hours to its end
// (with the dump's command running all that time).
func TestStreamStopsWhenStorageFails(t *testing.T) {
	store := mem.New()
	repo.TestRepositoryOn(t, store)
	r, err := openOn(t, dataWritesFail{store})
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	src := &countingReader{r: rand.NewChaCha8([32]byte{3}), left: size}
	_, err = ingest.Run(context.Background(), r, ingest.Options{Stdin: src, StdinName: "dump.sql", Host: "h", Source: "s"})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("ingest: %v, want the storage error", err)
	}
	if n := src.read.Load(); n > size/2 {
		t.Fatalf("read %d MiB of the stream after its first pack failed to be stored, want it to stop early", n>>20)
	}
}
