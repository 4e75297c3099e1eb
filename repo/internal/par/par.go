// Package par runs work on a bounded number of goroutines.
package par

import (
	"context"
	"os"
	"runtime"
	"sync"
)

// Cores is how many processors the runtime found at start (GOMAXPROCS: the
// CPUs this process may use, its cgroup's quota, or the variable), read
// once. Worker pools and the compressions at once are sized by it, so that
// OneMoreProcessor does not start more work at once too.
var Cores = runtime.GOMAXPROCS(0)

var extra struct {
	mu    sync.Mutex
	users int
}

// OneMoreProcessor gives the Go scheduler one processor more than Cores
// until every caller has called the undo it returns, unless GOMAXPROCS is
// set in the environment. It is for the ingest, whose goroutines compress
// in libzstd: a goroutine in a C call keeps its processor until the
// runtime's monitor hands it on, and with one processor per core the rest
// of the pipeline (reading, chunking, hashing, sealing, verifying) waited
// for one meanwhile.
//
// Measured on the benchmark corpus (2 cores, cold cache, interleaved
// pairs): a first ingest idled both cores 10-15% of the time, evenly from
// start to end, and took 6.56-7.31 s instead of 7.31-7.88 s with one more
// processor (four pairs), at the same peak memory. A restore, writing
// through the page cache, gained nothing clear: 3.85-4.51 s against
// 3.41-4.53 s (eight pairs), so it keeps one processor per core.
func OneMoreProcessor() (undo func()) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return func() {}
	}
	extra.mu.Lock()
	defer extra.mu.Unlock()
	if extra.users == 0 {
		runtime.GOMAXPROCS(Cores + 1)
	}
	extra.users++
	var once sync.Once
	return func() {
		once.Do(func() {
			extra.mu.Lock()
			defer extra.mu.Unlock()
			if extra.users--; extra.users == 0 {
				// Back to the runtime's own choice, which follows a
				// changed CPU quota again (setting a number stops that).
				runtime.SetDefaultGOMAXPROCS()
			}
		})
	}
}

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
