package restore

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// TestSpanArena hands out parts concurrently and checks that no two parts
// in use overlap and that the budget holds.
func TestSpanArena(t *testing.T) {
	const size = 1 << 16
	a := newSpanArena(size)
	owner := make([]int32, size) // which goroutine holds each byte, 0 for none
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := int32(1); g <= 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				n := 1 + rand.IntN(size/3)
				if rand.IntN(50) == 0 {
					n = size + 100 // longer than the budget
				}
				b, off := a.acquire(n)
				if len(b) != n {
					t.Errorf("acquire(%d): %d bytes", n, len(b))
				}
				m := min(n, size)
				mu.Lock()
				for i := off; i < off+m; i++ {
					if owner[i] != 0 {
						t.Errorf("byte %d handed out twice", i)
						break
					}
					owner[i] = g
				}
				mu.Unlock()
				b[0], b[len(b)-1] = 1, 1
				mu.Lock()
				for i := off; i < off+m; i++ {
					owner[i] = 0
				}
				mu.Unlock()
				a.release(b, off)
			}
		}()
	}
	wg.Wait()
	if len(a.used) != 0 {
		t.Fatalf("%d parts still in use", len(a.used))
	}
}
