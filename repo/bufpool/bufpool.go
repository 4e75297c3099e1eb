// Package bufpool recycles the large byte buffers of the ingest and restore
// pipelines (chunks of up to 8 MiB, compressed and sealed copies), so that
// steady state allocates, zeroes and collects almost nothing.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 12 // 4 KiB
	maxShift = 26 // 64 MiB
)

var pools [maxShift + 1]sync.Pool

func class(n int) int {
	if n <= 1<<minShift {
		return minShift
	}
	return bits.Len(uint(n - 1))
}

// Get returns a buffer of length 0 and capacity at least n.
func Get(n int) []byte {
	c := class(n)
	if c > maxShift {
		return make([]byte, 0, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// Put hands a buffer back. The caller must not use it afterwards.
func Put(b []byte) {
	c := cap(b)
	if c < 1<<minShift || c&(c-1) != 0 || bits.Len(uint(c))-1 > maxShift {
		return // not one of ours
	}
	b = b[:0]
	pools[bits.Len(uint(c))-1].Put(&b)
}
