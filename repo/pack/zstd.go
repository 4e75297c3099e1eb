package pack

import (
	"runtime"

	"github.com/klauspost/compress/zstd"
)

// A compressor turns a whole blob into one zstd frame. Every engine writes
// standard frames that record their content size, and one decoder reads
// them all: which engine wrote a blob is not stored and never matters.
type compressor interface {
	// compress appends the frame of src to dst[:0], growing it only when
	// its capacity is too small. It returns nil when it cannot compress
	// (the blob is then stored uncompressed).
	compress(dst, src []byte) []byte
	name() string
}

// goZstd is klauspost's pure-Go zstd encoder: the engine of builds
// without cgo.
type goZstd struct{ enc *zstd.Encoder }

// GoZstdLevel is the pure-Go engine's pinned level (about zstd's 3).
const GoZstdLevel = zstd.SpeedDefault

func newGoZstd() *goZstd {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(GoZstdLevel),
		// Each encoder keeps a window of history: 4 MiB, not the
		// default 8, compresses the benchmark corpus's chunks to the
		// same size and spares 8 MiB of memory per ingest.
		zstd.WithWindowSize(4<<20),
		zstd.WithLowerEncoderMem(true),
		zstd.WithEncoderCRC(false), // the AEAD tag authenticates
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		panic(err)
	}
	return &goZstd{enc: enc}
}

func (g *goZstd) compress(dst, src []byte) []byte { return g.enc.EncodeAll(src, dst[:0]) }
func (g *goZstd) name() string                    { return "go" }

// newDecoder makes the one decoder, pure Go whatever the build: it parses
// what storage hands back, which is best done in memory-safe code, and it
// decodes the benchmark corpus's chunks as fast as libzstd does.
func newDecoder() *zstd.Decoder {
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(MaxBlobSize),
		zstd.WithDecoderLowmem(true),
		zstd.IgnoreChecksum(true),
	)
	if err != nil {
		panic(err)
	}
	return dec
}
