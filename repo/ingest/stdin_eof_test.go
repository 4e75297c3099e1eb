package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// wrappedEOFReader yields data, then ends with an error that wraps
// io.EOF (as readers that annotate their errors do).
type wrappedEOFReader struct{ r io.Reader }

func (w wrappedEOFReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err == io.EOF {
		err = fmt.Errorf("stream closed: %w", io.EOF)
	}
	return n, err
}

// A stream that ends with an error wrapping io.EOF is not taken for one
// that ended: the chunk in progress is lost, so the ingest must fail, not
// save a snapshot without the stream's tail.
func TestWrappedEOFFailsTheStream(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{7}).Read(data)
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Stdin: wrappedEOFReader{bytes.NewReader(data)}, StdinName: "s", Host: "h", Source: "s"})
	if err == nil {
		t.Fatalf("ingest succeeded with %d of %d bytes of the stream (chunker %s)", res.Snapshot.Summary.TotalBytes, len(data), r.Config().Chunker.ChunkerAlgorithm())
	}
}
