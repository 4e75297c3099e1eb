//go:build cgo

package pack

/*
#include <stddef.h>

// The stable part of libzstd's advanced API (zstd.h, v1.4.0 on). The
// library itself is the one github.com/DataDog/zstd builds from the C
// sources it bundles, imported below for that alone.
typedef struct ZSTD_CCtx_s ZSTD_CCtx;
ZSTD_CCtx* ZSTD_createCCtx(void);
size_t ZSTD_freeCCtx(ZSTD_CCtx* cctx);
size_t ZSTD_CCtx_reset(ZSTD_CCtx* cctx, int reset);
size_t ZSTD_CCtx_setParameter(ZSTD_CCtx* cctx, int param, int value);
size_t ZSTD_compress2(ZSTD_CCtx* cctx, void* dst, size_t dstCapacity, const void* src, size_t srcSize);
unsigned ZSTD_isError(size_t code);
unsigned ZSTD_versionNumber(void);

enum {
	cairn_reset_session_and_parameters = 3,
	cairn_c_compressionLevel = 100,
	cairn_c_hashLog = 102,
	cairn_c_chainLog = 103,
	cairn_c_minMatch = 105,
	cairn_c_strategy = 107,
	cairn_dfast = 2,
	// ZSTD_c_blockSplitterLevel is experimental: its number (1017) and
	// meaning (1: no splitting) are those of libzstd 1.5.7, and it is
	// set only for that version.
	cairn_blockSplitterVersion = 10507,
	cairn_c_blockSplitterLevel = 1017,
	cairn_noSplit = 1,
};

// cairn_compress compresses src into one frame (recording its content
// size, no checksum: libzstd's defaults) at level, with the tuned
// parameters when tuned is set. One call, so one cgo crossing.
static size_t cairn_compress(ZSTD_CCtx* c, void* dst, size_t cap, const void* src, size_t n,
                             int level, int tuned, int hashLog, int chainLog, int minMatch) {
	size_t r = ZSTD_CCtx_reset(c, cairn_reset_session_and_parameters);
	if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(c, cairn_c_compressionLevel, level);
	if (tuned) {
		if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(c, cairn_c_strategy, cairn_dfast);
		if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(c, cairn_c_hashLog, hashLog);
		if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(c, cairn_c_chainLog, chainLog);
		if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(c, cairn_c_minMatch, minMatch);
		if (!ZSTD_isError(r) && ZSTD_versionNumber() == cairn_blockSplitterVersion)
			r = ZSTD_CCtx_setParameter(c, cairn_c_blockSplitterLevel, cairn_noSplit);
	}
	if (ZSTD_isError(r)) return r;
	return ZSTD_compress2(c, dst, cap, src, n);
}
*/
import "C"

import (
	"runtime"
	"unsafe"

	_ "github.com/DataDog/zstd" // links libzstd

	"github.com/cairn-backup/cairn/repo/internal/par"
)

// The C engine's pinned parameters.
//
// A blob under TunedMin bytes (a small file, a file's tail) is compressed
// at LibzstdLevel, whose parameters libzstd picks by the blob's size. A
// larger one (every chunk but a file's last) is compressed with level 3's
// double-fast strategy and smaller tables that ask for longer matches:
// TunedHashLog, TunedChainLog, TunedMinMatch instead of 17, 16 and 5. On
// the benchmark corpus's compressible files cut into 1 MiB pieces that
// took 2.38 s instead of 3.00 s on one core, and the pieces came out
// 0.6 MB smaller (364.2 MB instead of 364.7); the same tables on the small
// pieces made them 2% larger, so those keep the level's own. A cold first
// ingest of the corpus took 8.60-9.16 s instead of 9.26-9.78 (four
// interleaved pairs), 11.0-11.6 CPU-seconds in user space instead of
// 12.1-12.7, to a repository no larger. Level 1 or 2 would have been
// faster still, but made the repository larger than restic's.
//
// The tuned blobs also skip libzstd 1.5.7's block pre-splitter, which
// looks for a place to cut each 128 KiB block in two where the data
// changes character. On the corpus's deduplicated chunks (1,800 MiB of
// them tuned) compression took 2.44-2.53 s instead of 2.60-2.81 on one
// core (three alternating runs each), for 0.9 MiB more output (997.6 MiB
// instead of 996.7).
const (
	LibzstdLevel  = 3
	TunedMin      = 256 << 10
	TunedHashLog  = 16
	TunedChainLog = 13
	TunedMinMatch = 6
)

// cZstd is the reference zstd library. A libzstd context is not safe for
// concurrent use: each call takes one of par.Cores from the pool, waiting when
// all are busy. A C call runs on a thread of its own, whose processor the
// runtime may hand on meanwhile, so the pool is also what keeps more
// compressions than cores from running at once, and it bounds the C
// memory (about a megabyte a context), which the Go runtime does not see.
type cZstd struct {
	pool chan *cctx // nil entries: contexts not made yet
}

// cctx owns one libzstd context, freed when the cctx is collected.
type cctx struct{ c *C.ZSTD_CCtx }

func newCctx() *cctx {
	x := &cctx{c: C.ZSTD_createCCtx()}
	if x.c == nil {
		return nil
	}
	runtime.SetFinalizer(x, func(x *cctx) { C.ZSTD_freeCCtx(x.c) })
	return x
}

// newCompressor picks the engine of this build: libzstd where cgo is
// available. Measured on the benchmark corpus's compressible chunks (1,353
// MiB in 1 MiB pieces, one core), the pure-Go engine took 5.6-5.7 s to 385
// MiB, libzstd at level 3 3.7-4.1 s to 382 MiB; a first ingest of the
// corpus took 9.5-9.9 s instead of 12.4-12.6 s.
func newCompressor() compressor {
	c := &cZstd{pool: make(chan *cctx, par.Cores)}
	for range par.Cores {
		c.pool <- nil
	}
	return c
}

func (c *cZstd) compress(dst, src []byte) []byte {
	x := <-c.pool
	if x == nil {
		x = newCctx()
	}
	out := x.compress(dst, src, len(src) >= TunedMin)
	c.pool <- x
	return out
}

// compress appends the frame of src to dst[:0], with the tuned parameters
// or level 3's own; nil when it cannot. x may be nil (libzstd could not
// make a context): the blob is then stored as it is.
func (x *cctx) compress(dst, src []byte, tuned bool) []byte {
	if x == nil || len(src) == 0 {
		return nil
	}
	if cap(dst) < compressRoom(len(src)) {
		dst = make([]byte, 0, compressRoom(len(src)))
	}
	t := C.int(0)
	if tuned {
		t = 1
	}
	dst = dst[:cap(dst)]
	n := C.cairn_compress(x.c, unsafe.Pointer(&dst[0]), C.size_t(len(dst)), unsafe.Pointer(&src[0]), C.size_t(len(src)),
		LibzstdLevel, t, TunedHashLog, TunedChainLog, TunedMinMatch)
	runtime.KeepAlive(x) // its finalizer frees the C context
	if C.ZSTD_isError(n) != 0 {
		// Out of memory (there is room for any frame): the blob is
		// stored as it is.
		return nil
	}
	return dst[:n]
}

func (c *cZstd) name() string { return "libzstd" }

// libzstdVersion is the linked library's version: 10507 for 1.5.7.
func libzstdVersion() int { return int(C.ZSTD_versionNumber()) }
