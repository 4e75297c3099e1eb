package restore

import (
	"sync"

	"github.com/cairn-backup/cairn/repo/bufpool"
)

// spanArena is the run workers' read buffers and their budget: readBudget
// bytes of pack being read or decrypted at once, as parts of one buffer
// made at the first read and reused for the whole restore. The shared
// cache would not do: it keeps 48 MiB of buffers of all sizes for every
// user, less than this budget, so pack reads would allocate, zero and
// fault in tens of MiB again.
type spanArena struct {
	mu   sync.Mutex
	cond *sync.Cond
	size int
	buf  []byte
	used []extent // the parts handed out, in offset order
	next int      // the end of the last part handed out
}

type extent struct{ off, end int }

func newSpanArena(size int) *spanArena {
	a := &spanArena{size: size}
	a.cond = sync.NewCond(&a.mu)
	return a
}

// acquire waits for n bytes of the arena and returns them, with the offset
// to release them by. A span longer than the arena waits for all of it
// and is read into a buffer of its own.
func (a *spanArena) acquire(n int) ([]byte, int) {
	want := min(n, a.size)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.buf == nil {
		a.buf = make([]byte, a.size)
	}
	for {
		if off, ok := a.fit(want); ok {
			a.take(off, off+want)
			if n > a.size {
				return bufpool.Get(n)[:n], off
			}
			return a.buf[off : off+n : off+n], off
		}
		a.cond.Wait()
	}
}

// fit finds room for n bytes: where the last part ended, so that parts
// released in about the order they were taken leave no holes, or else the
// first gap large enough.
func (a *spanArena) fit(n int) (int, bool) {
	if a.next+n <= a.size && a.isFree(a.next, a.next+n) {
		return a.next, true
	}
	at := 0
	for _, e := range a.used {
		if e.off-at >= n {
			return at, true
		}
		at = e.end
	}
	return at, a.size-at >= n
}

func (a *spanArena) isFree(off, end int) bool {
	for _, e := range a.used {
		if e.off < end && off < e.end {
			return false
		}
	}
	return true
}

func (a *spanArena) take(off, end int) {
	i := 0
	for i < len(a.used) && a.used[i].off < off {
		i++
	}
	a.used = append(a.used, extent{})
	copy(a.used[i+1:], a.used[i:])
	a.used[i] = extent{off, end}
	a.next = end
}

// release hands back what acquire returned.
func (a *spanArena) release(b []byte, off int) {
	if len(b) > a.size {
		bufpool.Put(b)
	}
	a.mu.Lock()
	for i, e := range a.used {
		if e.off == off {
			a.used = append(a.used[:i], a.used[i+1:]...)
			break
		}
	}
	a.mu.Unlock()
	a.cond.Broadcast()
}

// plainKept is how many bytes of buffers for decompressed blobs the run
// workers keep between blobs: a few blobs' worth, for the workers that
// decompress or write at once.
const plainKept = 16 << 20
