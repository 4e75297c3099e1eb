//go:build cgo

package pack

import libzstd "github.com/DataDog/zstd"

// LibzstdLevel is the C engine's pinned level.
const LibzstdLevel = 3

// cZstd is the reference zstd library, built from the C sources the Go
// module bundles. A libzstd context is not safe for concurrent use, so
// each call takes one from a free list.
type cZstd struct {
	free chan libzstd.Ctx
}

// newCompressor picks the engine of this build: libzstd where cgo is
// available. Measured on the benchmark corpus's compressible chunks (1,353
// MiB in 1 MiB pieces, one core), the pure-Go engine took 5.6-5.7 s to 385
// MiB, libzstd at level 3 3.7-4.1 s to 382 MiB; a first ingest of the
// corpus took 9.5-9.9 s instead of 12.4-12.6 s.
func newCompressor() compressor {
	return &cZstd{free: make(chan libzstd.Ctx, 16)}
}

func (c *cZstd) compress(dst, src []byte) []byte {
	var x libzstd.Ctx
	select {
	case x = <-c.free:
	default:
		x = libzstd.NewCtx()
	}
	out, err := x.CompressLevel(dst[:0], src, LibzstdLevel)
	select {
	case c.free <- x:
	default: // a finalizer frees the C memory of a context not kept
	}
	if err != nil {
		// One-shot compression into a buffer the library sizes fails
		// only when C memory runs out: the blob is stored as it is.
		return nil
	}
	return out
}

func (c *cZstd) name() string { return "libzstd" }
