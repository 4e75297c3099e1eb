package restore

import (
	"fmt"
	"sync"
)

// zeroTally counts the chunks of a file the repository lacks.
type zeroTally struct {
	mu     sync.Mutex
	chunks int
	bytes  uint64
	off    int64  // of the first in the file
	size   uint64 // of the first in the file
	err    error  // why the first in the file could not be read
}

func (z *zeroTally) add(off int64, size uint64, err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.chunks == 0 || off < z.off {
		z.off, z.size, z.err = off, size, err
	}
	z.chunks++
	z.bytes += size
}

// report says where the file has zeros and why.
func (z *zeroTally) report() error { return z.say("left as zeros") }

// unreadable says where the snapshot's copy cannot be read and why, for
// a copy that was not put in place.
func (z *zeroTally) unreadable() error { return z.say("of the snapshot's copy cannot be read") }

func (z *zeroTally) say(what string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.chunks == 1 {
		return fmt.Errorf("at offset %d, %d bytes %s: %w", z.off, z.size, what, z.err)
	}
	return fmt.Errorf("%d bytes in %d chunks %s, the first at offset %d (%d bytes): %w", z.bytes, z.chunks, what, z.off, z.size, z.err)
}
