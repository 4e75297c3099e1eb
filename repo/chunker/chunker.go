// Package chunker cuts streams into content-defined chunks with a gear
// hash keyed by the repository: the "gear" chunker of docs/FORMAT.md §3.
//
// A chunk ends after byte L-1 (its length is L) at the first L with
// Min <= L <= Max at which the top Bits bits of
//
//	h(L) = sum over j in 0..63 of T[b(L-1-j)] << j   (mod 2^64)
//
// are all zero, where T is the repository's table of 256 random 64-bit
// words and b(i) the chunk's i-th byte; at Max when there is no such L. A
// cut depends only on the 64 bytes before it, so an insertion moves the
// cuts near it and no others, and nothing before Min-64 is hashed at all.
// On random data a chunk is Min + 2^Bits bytes long on average.
package chunker

import (
	"io"

	"github.com/cairn-backup/cairn/repo/bufpool"
)

// Table is the 256 random words of a repository's gear hash.
type Table [256]uint64

// Params bound the chunks.
type Params struct {
	Min, Max int // at least Window, Min <= Max
	Bits     int // 1..63: a cut's probability is 2^-Bits per byte past Min
}

// Window is how many bytes before a cut decide it.
const Window = 64

// cutter finds the end of one chunk, incrementally: it keeps the hash and
// the position over calls that see the chunk grow.
type cutter struct {
	t    *Table
	p    Params
	mask uint64
	h    uint64
	pos  int // bytes of the current chunk already hashed or skipped
}

func newCutter(t *Table, p Params) cutter {
	return cutter{t: t, p: p, mask: ^uint64(0) << (64 - p.Bits)}
}

// reset starts a new chunk.
func (c *cutter) reset() { c.h, c.pos = 0, 0 }

// scan goes on over buf, which holds the current chunk from its first
// byte, and returns the chunk's length once buf holds its end, or 0. It
// never looks past Max; at Max it cuts.
func (c *cutter) scan(buf []byte) int {
	n := min(len(buf), c.p.Max)
	pos, h, t := c.pos, c.h, c.t
	if skip := c.p.Min - Window; pos < skip {
		pos = min(skip, n)
	}
	// Up to Min-1 the hash only fills its window.
	if end := min(n, c.p.Min-1); pos < end {
		for _, b := range buf[pos:end] {
			h = h<<1 + t[b]
		}
		pos = end
	}
	if pos < n {
		var l int
		if l, h = scanGear(buf[pos:n], h, t, c.mask); l > 0 {
			c.reset()
			return pos + l
		}
		pos = n
	}
	if n == c.p.Max {
		c.reset()
		return n
	}
	c.h, c.pos = h, pos
	return 0
}

// scanGear goes on hashing from h over b and returns the length of b's
// prefix that ends at the first cut (the first hash with its mask bits
// all zero), or 0 and the hash after all of b when b holds none.
//
// It takes four bytes a step. One step's hashes all derive from the hash
// before it (h<<k plus the step's own bytes, summed off the chain), so
// the chain that runs through the whole scan is one shift and one add per
// four bytes, not per byte: hashing is about twice as fast.
func scanGear(b []byte, h uint64, t *Table, mask uint64) (int, uint64) {
	i := 0
	for ; i+4 <= len(b); i += 4 {
		q := b[i : i+4 : i+4]
		x0, x1, x2, x3 := t[q[0]], t[q[1]], t[q[2]], t[q[3]]
		s1 := x0<<1 + x1
		s2 := s1<<1 + x2
		s3 := s2<<1 + x3
		h0 := h<<1 + x0
		h1 := h<<2 + s1
		h2 := h<<3 + s2
		h = h<<4 + s3
		if h0&mask != 0 && h1&mask != 0 && h2&mask != 0 && h&mask != 0 {
			continue
		}
		switch {
		case h0&mask == 0:
			return i + 1, h0
		case h1&mask == 0:
			return i + 2, h1
		case h2&mask == 0:
			return i + 3, h2
		default:
			return i + 4, h
		}
	}
	for ; i < len(b); i++ {
		h = h<<1 + t[b[i]]
		if h&mask == 0 {
			return i + 1, h
		}
	}
	return 0, h
}

// Cuts returns the chunk lengths of data, taken whole (for tests and
// tools; a stream goes through a Chunker).
func Cuts(data []byte, t *Table, p Params) []int {
	c := newCutter(t, p)
	var out []int
	for len(data) > 0 {
		n := c.scan(data)
		if n == 0 {
			n = len(data)
		}
		out = append(out, n)
		data = data[n:]
	}
	return out
}

// readSize is how much a Chunker asks its reader for at once. What a read
// brings past a cut is copied to the next chunk's buffer, a readSize/2 on
// average: small against a chunk.
const readSize = 256 << 10

// startSize is the capacity a chunk's buffer starts with (or the
// stream's size, when it is known and smaller): most chunks fit (on random
// data with Min 512 KiB and 1 MiB on average, 78%), the others grow it
// once or twice. A chunk waits in its buffer until it is stored, and an
// ingest has ten or so on their way: a larger start (3 MiB: 92% fit)
// costs 10 MiB more memory to save copying a sixth of the data.
const startSize = 2 << 20

// Chunker cuts what a reader yields into chunks.
type Chunker struct {
	r     io.Reader
	c     cutter
	next  []byte // read past the last cut: the next chunk's start
	err   error  // the reader's error (io.EOF at the end), once seen
	left  int64  // bytes the reader is expected to yield still; < 0: unknown
	empty int    // reads in a row that returned nothing and no error
}

// New returns a chunker of r, which yields size bytes (< 0: unknown).
// The size only sizes buffers: a reader that yields more or less is cut
// all the same.
func New(r io.Reader, size int64, t *Table, p Params) *Chunker {
	return &Chunker{r: r, c: newCutter(t, p), left: size}
}

// Reset makes ch cut r, which yields size bytes (< 0: unknown), from its
// start, as New would.
func (ch *Chunker) Reset(r io.Reader, size int64) {
	if ch.next != nil {
		bufpool.Put(ch.next)
	}
	*ch = Chunker{r: r, c: newCutter(ch.c.t, ch.c.p), left: size}
}

// bufSize is the capacity for a chunk that starts with have bytes: room
// for what the reader has left and one byte more (to find its end without
// growing the buffer), up to startSize.
func (ch *Chunker) bufSize(have int) int {
	if ch.left < 0 {
		return startSize
	}
	return int(min(int64(startSize), int64(have)+ch.left+1))
}

// Next returns the next chunk, in a buffer from bufpool that the caller
// owns (and may hand back with bufpool.Put), or io.EOF after the last. A
// read error other than io.EOF is returned as it is, and the bytes of the
// chunk it interrupted are dropped.
func (ch *Chunker) Next() ([]byte, error) {
	buf := ch.next
	ch.next = nil
	for {
		if len(buf) > 0 {
			if n := ch.c.scan(buf); n > 0 {
				if n < len(buf) {
					ch.next = append(bufpool.Get(ch.bufSize(len(buf)-n)), buf[n:]...)
				}
				return buf[:n], nil
			}
		}
		if ch.err != nil {
			if len(buf) > 0 && ch.err == io.EOF {
				ch.c.reset()
				return buf, nil // the last chunk, shorter than a cut
			}
			if buf != nil {
				bufpool.Put(buf)
			}
			return nil, ch.err
		}
		if buf == nil {
			buf = bufpool.Get(ch.bufSize(0))
		}
		want := min(readSize, ch.c.p.Max-len(buf))
		if ch.left >= 0 && int64(want) > ch.left+1 {
			// The rest and the end fit in the room bufSize made.
			want = int(ch.left + 1)
		}
		if cap(buf)-len(buf) < want {
			grown := bufpool.Get(min(max(2*cap(buf), len(buf)+want), ch.c.p.Max))
			grown = append(grown, buf...)
			bufpool.Put(buf)
			buf = grown
		}
		n, err := ch.r.Read(buf[len(buf) : len(buf)+want])
		buf = buf[:len(buf)+n]
		if n == 0 && err == nil {
			if ch.empty++; ch.empty >= 100 {
				err = io.ErrNoProgress // as bufio: a reader that never moves
			}
		} else {
			ch.empty = 0
		}
		if ch.left -= int64(n); ch.left < 0 {
			ch.left = -1 // more than was said: read on as unknown
		}
		if err != nil {
			ch.err = err
		}
	}
}
