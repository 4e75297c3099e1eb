// Package bufpool recycles the large byte buffers of the ingest and restore
// pipelines (chunks of up to 8 MiB, compressed and sealed copies), so that
// steady state allocates, zeroes and collects almost nothing.
//
// Sizes are rounded up to one of four classes per power of two (1 MiB,
// 1.25 MiB, 1.5 MiB, 1.75 MiB, 2 MiB, ...), so a new buffer wastes at most
// a fifth of its size; a free one lent to a smaller request (see reach), at
// most its class's size again.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 12 // 4 KiB
	maxShift = 26 // 64 MiB
	steps    = 4  // classes per power of two
)

const nClasses = (maxShift + 1) * steps

// kept is how many bytes of free buffers the shared cache holds at most;
// past it, the buffer of the class least recently used goes to the
// collector.
//
// A cache, not a sync.Pool: a sync.Pool is emptied by every other
// collection, and cairn collects often (it keeps its heap small), so each
// emptying meant allocating, zeroing and faulting in the buffers again. On
// a virtual machine whose host takes freed pages back, faulting a page in
// again costs many times copying it. On the benchmark corpus a first
// ingest faulted in 1.8 GB with sync.Pool and 0.8 GB with this cache, and
// took 9.5 s instead of 10.4 s (means of three interleaved runs), for 9 MiB
// more peak memory. A 64 MiB cache saved another 0.5 GB of faults but no
// time, for another 20 MiB, when a Get reached two classes up. Reaching
// four, 48 MiB instead of 32 cut a first ingest's faults from 142-185k to
// 85-126k, and it took 7.97 s instead of 8.78 s on average (ten runs each,
// interleaved), for a median peak of 121 MiB instead of 112; 40 MiB was
// no faster than 32.
const kept = 48 << 20

var shared struct {
	mu   sync.Mutex
	free [nClasses][][]byte
	used [nClasses]uint64 // tick of the class's last Get or Put
	tick uint64
	held int
}

// classOf returns the pool index and capacity for a buffer of n bytes.
func classOf(n int) (int, int) {
	if n <= 1<<minShift {
		return minShift*steps - 1, 1 << minShift // the last class below 4 KiB's range
	}
	shift := bits.Len(uint(n-1)) - 1 // 1<<shift < n <= 1<<(shift+1)
	step := 1 << (shift - 2)         // a quarter of the power below
	k := (n - (1 << shift) + step - 1) / step
	return shift*steps + k - 1, 1<<shift + k*step
}

// SizeFor is the capacity of a new buffer for n bytes (its class's size).
// A Get may also return a free buffer of up to twice that.
func SizeFor(n int) int {
	if i, size := classOf(n); i < nClasses {
		return size
	}
	return n
}

// reach is how many classes above its own a Get may take a free buffer
// from: at most twice its class's size. Chunks grow their buffers (2 MiB
// to start, then doubled) and compressed copies come in every size, so a
// Get that finds nothing in the classes just above its own makes a new
// buffer, which this virtual machine's host faults in page by page. On
// cold first ingests of the benchmark corpus, reaching four classes up
// rather than two cut the page faults from 202-258k to 139-180k, and the
// ingests took 8.67 s instead of 9.39 s on average over ten interleaved
// pairs (15.8 CPU-seconds instead of 17.1), with a median peak memory of
// 111 MiB instead of 116.
const reach = 4

// Get returns a buffer of length 0 and capacity at least n: a free one of
// n's class or up to reach classes above, or a new one of n's class.
func Get(n int) []byte {
	i, size := classOf(n)
	if i >= nClasses {
		return make([]byte, 0, n)
	}
	c := &shared
	c.mu.Lock()
	for j := i; j <= i+reach && j < nClasses; j++ {
		if k := len(c.free[j]); k > 0 {
			b := c.free[j][k-1]
			c.free[j][k-1] = nil
			c.free[j] = c.free[j][:k-1]
			c.held -= cap(b)
			c.tick++
			c.used[j] = c.tick
			c.mu.Unlock()
			return b
		}
	}
	c.mu.Unlock()
	return make([]byte, 0, size)
}

// Put hands a buffer back. The caller must not use it afterwards. Buffers
// that Get did not make (other capacities) are left to the collector; so
// is the buffer of the class least recently used when the cache is full.
func Put(b []byte) {
	i, size := classOf(cap(b))
	if i >= nClasses || size != cap(b) || size > kept {
		return
	}
	c := &shared
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick++
	c.used[i] = c.tick
	for c.held+size > kept {
		lru := -1
		for j := range c.free {
			if len(c.free[j]) > 0 && (lru < 0 || c.used[j] < c.used[lru]) {
				lru = j
			}
		}
		k := len(c.free[lru]) - 1
		c.held -= cap(c.free[lru][k])
		c.free[lru][k] = nil
		c.free[lru] = c.free[lru][:k]
	}
	c.free[i] = append(c.free[i], b[:0])
	c.held += size
}

// List is a free list of buffers for one user (a restore), kept for it
// alone whatever the other users of the shared cache do. It keeps at most
// max bytes of buffers, of Get's sizes. Its methods are safe for
// concurrent use.
type List struct {
	mu   sync.Mutex
	free [][]byte
	held int // bytes in free
	max  int
}

// NewList returns a List keeping at most max bytes of free buffers.
func NewList(max int) *List { return &List{max: max} }

// Get returns a buffer of length 0 and capacity at least n: the smallest
// free one that is large enough, or a new one of a pool size.
func (l *List) Get(n int) []byte {
	l.mu.Lock()
	best := -1
	for i, b := range l.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(l.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := l.free[best]
		last := len(l.free) - 1
		l.free[best], l.free[last] = l.free[last], nil
		l.free = l.free[:last]
		l.held -= cap(b)
		l.mu.Unlock()
		return b[:0]
	}
	l.mu.Unlock()
	return Get(n)
}

// Put hands a buffer back. The caller must not use it afterwards. When the
// list is full, the smallest buffers make way for a larger one, and what
// does not fit goes to the shared cache.
func (l *List) Put(b []byte) {
	if cap(b) == 0 {
		return
	}
	l.mu.Lock()
	if cap(b) > l.max {
		l.mu.Unlock()
		Put(b)
		return
	}
	for l.held+cap(b) > l.max {
		small := 0
		for i, f := range l.free {
			if cap(f) < cap(l.free[small]) {
				small = i
			}
		}
		if cap(l.free[small]) >= cap(b) {
			l.mu.Unlock()
			Put(b)
			return
		}
		drop := l.free[small]
		last := len(l.free) - 1
		l.free[small], l.free[last] = l.free[last], nil
		l.free = l.free[:last]
		l.held -= cap(drop)
		Put(drop)
	}
	l.free = append(l.free, b[:0])
	l.held += cap(b)
	l.mu.Unlock()
}
