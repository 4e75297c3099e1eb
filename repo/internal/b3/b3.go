// Package b3 is BLAKE3 (plain and keyed, 256-bit output) for the
// repository's bulk hashing: blob IDs, their re-hash in verify, and pack
// names. It compresses sixteen chunks or parent nodes at once with
// AVX-512 where the CPU has it: on this project's machine 4.6-4.7 GB/s
// for 1 MiB keyed, against 3.6-3.9 GB/s for zeebo's eight-lane AVX2 code
// (BenchmarkKeyed1MiB, BenchmarkZeeboKeyed1MiB). Elsewhere, and for inputs too short to fill the lanes, it
// hands the work to github.com/zeebo/blake3; both give the same digests,
// which the tests check over every shape of input.
package b3

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/zeebo/blake3"
)

const (
	chunkLen = 1024
	blockLen = 64

	flagChunkStart = 1 << 0
	flagChunkEnd   = 1 << 1
	flagParent     = 1 << 2
	flagRoot       = 1 << 3
	flagKeyed      = 1 << 4

	lanes = 16
	// group is the number of chunks whose chaining values are merged
	// level by level, sixteen parents at a time, before they join the
	// stack of subtrees: 256 KiB of input.
	group = 256
)

// small is the shortest input hashed here rather than by zeebo's AVX2
// code: below it too few of the sixteen lanes would be busy. Tests lower
// it, and turn the kernel off, to check the tree code on every shape.
var small = 8 * chunkLen

// own: inputs of small or more bytes are hashed here (else zeebo does
// all the work). Tests set it to check the tree code where the kernel
// cannot run; hash16Generic then stands in for it.
var own = haveKernel

var iv = [8]uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19}

var msgPerm = [16]int{2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8}

// job is one call of the sixteen-lane kernel. Its layout is the
// assembly's (gen_amd64.go): do not reorder.
type job struct {
	idx    [lanes]uint32 // byte offset of each lane's input from in
	ctrLo  [lanes]uint32 // each lane's counter
	ctrHi  [lanes]uint32
	key    [8]uint32
	flags  uint32 // on every block
	start  uint32 // also on a lane's first block
	end    uint32 // also on its last block
	mask   uint32 // the lanes in use (the Go model skips the others)
	in     *byte
	blocks uint64           // blocks of 64 bytes in each lane's input
	out    [8][lanes]uint32 // the lanes' chaining values, word by word
}

// setLanes puts the first k lanes to work on inputs stride bytes apart.
// The others read the first lane's input, which is there to read, and
// their results are ignored.
func (j *job) setLanes(k, stride int) {
	j.mask = 1<<k - 1
	for i := range j.idx {
		j.idx[i] = 0
		if i < k {
			j.idx[i] = uint32(i * stride)
		}
	}
}

// Sum256 is the BLAKE3-256 of b.
func Sum256(b []byte) [32]byte {
	if !own || len(b) < small {
		return blake3.Sum256(b)
	}
	h := New()
	h.Write(b)
	return h.sum()
}

// Hasher computes BLAKE3-256, plain or keyed, over its writes. It is not
// safe for concurrent use, Sum included (it works in the Hasher's own
// buffers); take one from New or NewKeyed.
type Hasher struct {
	key   [8]uint32
	flags uint32

	// z does all the work when the kernel cannot run, and hashes short
	// inputs (below small) when it can.
	z *blake3.Hasher

	// pend holds input not yet compressed: always its last chunk, which
	// may turn out to be the root, and up to fifteen before it.
	pend []byte
	// cvs are the chaining values of the chunks compressed since the
	// last full group.
	cvs []byte
	// chunks counts the chunks whose values are in cvs or the stack.
	chunks uint64
	// stack holds the chaining values of complete subtrees of groups,
	// largest first, as in BLAKE3's incremental hashing.
	stack   [][8]uint32
	scratch []byte
	j       job
}

// New returns a Hasher of plain BLAKE3-256.
func New() *Hasher {
	return &Hasher{key: iv, z: blake3.New()}
}

// NewKeyed returns a Hasher of BLAKE3-256 keyed with key.
func NewKeyed(key *[32]byte) *Hasher {
	z, err := blake3.NewKeyed(key[:])
	if err != nil {
		panic(err) // a 32-byte key
	}
	h := &Hasher{flags: flagKeyed, z: z}
	for i := range h.key {
		h.key[i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	return h
}

// Reset forgets everything written.
func (h *Hasher) Reset() {
	h.z.Reset()
	h.pend, h.cvs, h.chunks, h.stack = h.pend[:0], h.cvs[:0], 0, h.stack[:0]
}

// Write adds p to the input. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	if !own {
		return h.z.Write(p)
	}
	n := len(p)
	if cap(h.pend) < lanes*chunkLen {
		// The first write: room for a whole batch, and a group's values.
		h.pend = append(make([]byte, 0, lanes*chunkLen), h.pend...)
		h.cvs = make([]byte, 0, group*32)
	}
	if len(h.pend) > 0 {
		k := copy(h.pend[len(h.pend):lanes*chunkLen], p)
		h.pend, p = h.pend[:len(h.pend)+k], p[k:]
		if len(p) == 0 {
			return n, nil
		}
		// More input follows: none of pend's chunks is the last.
		h.lanes(h.pend)
		h.pend = h.pend[:0]
	}
	// Whole batches straight from p, keeping at least a byte back.
	for len(p) > lanes*chunkLen {
		h.lanes(p)
		p = p[lanes*chunkLen:]
	}
	h.pend = append(h.pend, p...)
	return n, nil
}

// lanes compresses the sixteen chunks b starts with, which are not the
// last of the input, and adds their chaining values.
func (h *Hasher) lanes(b []byte) {
	h.cvs = h.chunksAt(h.cvs, b, lanes, h.chunks)
	h.chunks += lanes
	if len(h.cvs) < group*32 {
		return
	}
	// A complete group of chunks with more input after it is a subtree
	// of its own. It is merged with the subtrees before it while the
	// count of groups is even.
	cv := h.reduce(h.cvs, false)
	h.cvs = h.cvs[:0]
	for g := h.chunks / group; g&1 == 0; g >>= 1 {
		cv = h.parent(&h.stack[len(h.stack)-1], &cv, 0)
		h.stack = h.stack[:len(h.stack)-1]
	}
	h.stack = append(h.stack, cv)
}

// chunksAt compresses the first k whole chunks of b, numbered from c on,
// and appends their chaining values to cvs.
func (h *Hasher) chunksAt(cvs, b []byte, k int, c uint64) []byte {
	j := &h.j
	j.key, j.flags, j.start, j.end = h.key, h.flags, flagChunkStart, flagChunkEnd
	j.in, j.blocks = &b[0], chunkLen/blockLen
	for i := 0; i < lanes; i++ {
		x := c + uint64(i)
		j.ctrLo[i], j.ctrHi[i] = uint32(x), uint32(x>>32)
	}
	j.setLanes(k, chunkLen)
	return h.run(cvs, k)
}

// run calls the kernel on the job's first k lanes and appends their
// chaining values to cvs.
func (h *Hasher) run(cvs []byte, k int) []byte {
	if haveKernel {
		hash16(&h.j)
	} else {
		hash16Generic(&h.j)
	}
	h.j.in = nil // not to keep the caller's buffer alive
	for i := 0; i < k; i++ {
		for w := 0; w < 8; w++ {
			cvs = binary.LittleEndian.AppendUint32(cvs, h.j.out[w][i])
		}
	}
	return cvs
}

// reduce merges the chaining values in cvs (two or more, of consecutive
// chunks from an aligned start) level by level into one: pairs from the
// left, an odd last one carried up, which is BLAKE3's tree. The last
// parent gets the root flag when root is set. cvs is overwritten.
func (h *Hasher) reduce(cvs []byte, root bool) [8]uint32 {
	for len(cvs) > 64 {
		pairs := len(cvs) / 64
		next := h.parents(cvs, pairs)
		if len(cvs)%64 != 0 {
			next = append(next, cvs[len(cvs)-32:]...)
		}
		cvs = next
	}
	l, r := cvAt(cvs, 0), cvAt(cvs, 1)
	var f uint32
	if root {
		f = flagRoot
	}
	return h.parent(&l, &r, f)
}

// parents compresses the first pairs pairs of chaining values in cvs
// into cvs's first pairs*32 bytes: sixteen at a time by the kernel, or
// one by one when they are few. Each output lands at or before its pair,
// after the pair was read.
func (h *Hasher) parents(cvs []byte, pairs int) []byte {
	out := cvs[:0]
	if pairs < 4 {
		for i := 0; i < pairs; i++ {
			l, r := cvAt(cvs, 2*i), cvAt(cvs, 2*i+1)
			cv := h.parent(&l, &r, 0)
			out = appendCV(out, &cv)
		}
		return out
	}
	j := &h.j
	j.key, j.flags, j.start, j.end = h.key, h.flags|flagParent, 0, 0
	j.blocks = 1
	j.ctrLo, j.ctrHi = [lanes]uint32{}, [lanes]uint32{}
	for done := 0; done < pairs; done += lanes {
		k := min(lanes, pairs-done)
		j.in = &cvs[done*64]
		j.setLanes(k, blockLen)
		out = h.run(out, k)
	}
	return out
}

func cvAt(b []byte, i int) [8]uint32 {
	var cv [8]uint32
	for w := range cv {
		cv[w] = binary.LittleEndian.Uint32(b[32*i+4*w:])
	}
	return cv
}

func appendCV(b []byte, cv *[8]uint32) []byte {
	for _, w := range cv {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// parent is the chaining value (or with flagRoot in f, the first eight
// words of the output) of the parent node of l and r.
func (h *Hasher) parent(l, r *[8]uint32, f uint32) [8]uint32 {
	var m [16]uint32
	copy(m[:8], l[:])
	copy(m[8:], r[:])
	out := compress(&h.key, &m, 0, blockLen, h.flags|flagParent|f)
	return [8]uint32(out[:8])
}

// Sum appends the digest to b, without changing the Hasher.
func (h *Hasher) Sum(b []byte) []byte {
	d := h.sum()
	return append(b, d[:]...)
}

func (h *Hasher) sum() [32]byte {
	var d [32]byte
	if !own || h.chunks == 0 && len(h.pend) < small {
		if own {
			h.z.Reset()
			h.z.Write(h.pend)
		}
		h.z.Sum(d[:0])
		return d
	}
	// The last chunk, and the whole chunks before it in pend.
	last := h.pend
	n := 0
	if len(last) > 0 {
		n = (len(last) - 1) / chunkLen
	}
	cvs := append(h.scratch[:0], h.cvs...)
	if n > 0 {
		cvs = h.chunksAt(cvs, last, n, h.chunks)
		last = last[n*chunkLen:]
	}
	chunks := h.chunks + uint64(n)
	var root [8]uint32
	if chunks == 0 {
		root = chunkCV(&h.key, last, 0, h.flags|flagRoot)
	} else {
		cv := chunkCV(&h.key, last, chunks, h.flags)
		cvs = appendCV(cvs, &cv)
		root = cv
		if len(cvs) > 32 {
			root = h.reduce(cvs, len(h.stack) == 0)
		}
		for i := len(h.stack) - 1; i >= 0; i-- {
			var f uint32
			if i == 0 {
				f = flagRoot
			}
			root = h.parent(&h.stack[i], &root, f)
		}
	}
	h.scratch = cvs[:0]
	for w, x := range root {
		binary.LittleEndian.PutUint32(d[4*w:], x)
	}
	return d
}

// chunkCV compresses one chunk of at most chunkLen bytes (the input's
// last, possibly empty) with flags; with flagRoot, the result is the
// first eight words of the output.
func chunkCV(key *[8]uint32, b []byte, ctr uint64, flags uint32) [8]uint32 {
	cv := *key
	start := uint32(flagChunkStart)
	for {
		var block [blockLen]byte
		n := copy(block[:], b)
		b = b[n:]
		f := flags&^flagRoot | start
		if len(b) == 0 {
			f |= flagChunkEnd | flags&flagRoot
		}
		var m [16]uint32
		for i := range m {
			m[i] = binary.LittleEndian.Uint32(block[4*i:])
		}
		out := compress(&cv, &m, ctr, uint32(n), f)
		cv = [8]uint32(out[:8])
		start = 0
		if len(b) == 0 {
			return cv
		}
	}
}

// compress is BLAKE3's compression function; the first eight words of
// its result are the new chaining value.
func compress(cv *[8]uint32, m *[16]uint32, ctr uint64, blen, flags uint32) [16]uint32 {
	v := [16]uint32{
		cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6], cv[7],
		iv[0], iv[1], iv[2], iv[3], uint32(ctr), uint32(ctr >> 32), blen, flags,
	}
	s := *m
	for r := 0; r < 7; r++ {
		g(&v, 0, 4, 8, 12, s[0], s[1])
		g(&v, 1, 5, 9, 13, s[2], s[3])
		g(&v, 2, 6, 10, 14, s[4], s[5])
		g(&v, 3, 7, 11, 15, s[6], s[7])
		g(&v, 0, 5, 10, 15, s[8], s[9])
		g(&v, 1, 6, 11, 12, s[10], s[11])
		g(&v, 2, 7, 8, 13, s[12], s[13])
		g(&v, 3, 4, 9, 14, s[14], s[15])
		var next [16]uint32
		for k := range next {
			next[k] = s[msgPerm[k]]
		}
		s = next
	}
	for i := 0; i < 8; i++ {
		v[i] ^= v[i+8]
		v[i+8] ^= cv[i]
	}
	return v
}

func g(v *[16]uint32, a, b, c, d int, mx, my uint32) {
	v[a] += v[b] + mx
	v[d] = bits.RotateLeft32(v[d]^v[a], -16)
	v[c] += v[d]
	v[b] = bits.RotateLeft32(v[b]^v[c], -12)
	v[a] += v[b] + my
	v[d] = bits.RotateLeft32(v[d]^v[a], -8)
	v[c] += v[d]
	v[b] = bits.RotateLeft32(v[b]^v[c], -7)
}

// hash16Generic does what the kernel does, one lane after another: for
// CPUs without AVX-512, and to test the tree code on any machine.
func hash16Generic(j *job) {
	for i := 0; i < lanes; i++ {
		if j.mask&(1<<i) == 0 {
			continue
		}
		cv := j.key
		ctr := uint64(j.ctrLo[i]) | uint64(j.ctrHi[i])<<32
		for b := uint64(0); b < j.blocks; b++ {
			var m [16]uint32
			for w := range m {
				p := unsafe.Add(unsafe.Pointer(j.in), uintptr(j.idx[i])+uintptr(b*blockLen)+uintptr(4*w))
				m[w] = binary.LittleEndian.Uint32(unsafe.Slice((*byte)(p), 4))
			}
			f := j.flags
			if b == 0 {
				f |= j.start
			}
			if b == j.blocks-1 {
				f |= j.end
			}
			out := compress(&cv, &m, ctr, blockLen, f)
			cv = [8]uint32(out[:8])
		}
		for w := range cv {
			j.out[w][i] = cv[w]
		}
	}
}
