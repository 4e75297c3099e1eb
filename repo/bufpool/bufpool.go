// Package bufpool recycles the large byte buffers of the ingest and restore
// pipelines (chunks of up to 8 MiB, compressed and sealed copies), so that
// steady state allocates, zeroes and collects almost nothing.
//
// Sizes are rounded up to one of four classes per power of two (1 MiB,
// 1.25 MiB, 1.5 MiB, 1.75 MiB, 2 MiB, ...), so a pooled buffer wastes at
// most a fifth of its size.
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

var pools [(maxShift + 1) * steps]sync.Pool

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

// Get returns a buffer of length 0 and capacity at least n.
func Get(n int) []byte {
	i, size := classOf(n)
	if i >= len(pools) {
		return make([]byte, 0, n)
	}
	if p, ok := pools[i].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// Put hands a buffer back. The caller must not use it afterwards. Buffers
// that Get did not make (other capacities) are left to the collector.
func Put(b []byte) {
	i, size := classOf(cap(b))
	if i >= len(pools) || size != cap(b) {
		return
	}
	b = b[:0]
	pools[i].Put(&b)
}

// List is a free list of buffers for one user (a restore), kept whatever
// the collector does: sync.Pool is emptied by every other collection, and a
// program that collects often then allocates, zeroes and faults in every
// buffer again. It keeps at most max bytes of buffers, of Get's sizes. Its
// methods are safe for concurrent use.
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
// does not fit goes to the shared pools.
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
