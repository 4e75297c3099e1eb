package main

import (
	"os"
	"runtime"
)

// cores is how many processors the runtime found at start, before any
// oneMoreProcessor (par.Cores, for this package).
var cores = runtime.GOMAXPROCS(0)

// oneMoreProcessor gives the Go scheduler one processor more than the
// cores, unless GOMAXPROCS is set, and returns what undoes it. It is for
// the ingest, whose goroutines compress in libzstd: a goroutine in a C call
// keeps its processor until the runtime's monitor hands it on, and with one
// processor per core the rest of the pipeline (reading, chunking, hashing,
// sealing, verifying) waited for one meanwhile. The worker pools and the
// compressions at once stay one per core (par.Cores).
//
// Measured on the benchmark corpus (2 cores, cold cache, interleaved
// pairs): a first ingest idled both cores 10-15% of the time, evenly from
// start to end, and took 6.56-7.31 s instead of 7.31-7.88 s with one more
// processor (four pairs), at the same peak memory. A restore, writing
// through the page cache, gained nothing clear: 3.85-4.51 s against
// 3.41-4.53 s (eight pairs), so it keeps one processor per core.
func oneMoreProcessor() (undo func()) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return func() {}
	}
	prev := runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	return func() { runtime.GOMAXPROCS(prev) }
}
