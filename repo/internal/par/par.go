// Package par runs work on a bounded number of goroutines.
package par

import (
	"context"
	"runtime"
	"sync"
)

// Cores is how many processors the runtime found at start (GOMAXPROCS: the
// CPUs this process may use, its cgroup's quota, or the variable), read
// once. Worker pools and the compressions at once are sized by it, so that
// a command that gives the scheduler a processor more for goroutines
// waiting in C calls (cairn ingest) does not start more work at once too.
var Cores = runtime.GOMAXPROCS(0)

// Each runs fn(0..n-1) on up to workers goroutines and returns when all
// calls started have returned. Once ctx is done no more calls start.
func Each(ctx context.Context, workers, n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
