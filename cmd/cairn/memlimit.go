package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// memoryFloor is the soft memory limit cairn keeps while the collector
// keeps up with it easily. The collector keeps freed pages a while and the
// pipelines' pools hold buffers of many sizes: near the limit the runtime
// returns freed pages and drops pooled buffers. Measured on the benchmark
// corpus against a fixed 112 MiB limit, peak memory falls (a first ingest
// 121 -> 93 MiB, an ingest after a 1% change 116 -> 90 MiB) in the same
// time.
const memoryFloor = 80 << 20

// Past gcShareHigh of the CPU spent collecting, the limit is too tight
// for what the command holds (a huge folder tree) and grows by half;
// under gcShareLow it shrinks back towards the floor by a fifth.
const (
	gcShareHigh = 0.20
	gcShareLow  = 0.05
)

// tuneMemory sets the soft memory limit to memoryFloor and adjusts it
// after collections, judged over at least a tenth of a CPU-second each
// time: a limit below what a command needs would keep the collector
// running without end (a fixed one cannot know), so it grows while the
// collector takes more than gcShareHigh of the CPU, and never sits less
// than 16 MiB above the live heap. GOMEMLIMIT in the environment leaves
// the limit as it sets it. The returned stop ends the tuning (for tests).
func tuneMemory() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	limit := int64(memoryFloor)
	debug.SetMemoryLimit(limit)
	samples := []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/gc/heap/live:bytes"},
	}
	var lastGC, lastAll float64
	var stopped atomic.Bool
	var arm func()
	arm = func() {
		// A finalizer runs after the collection that finds its object
		// unreachable: once per cycle, re-armed each time.
		runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
			if stopped.Load() {
				return
			}
			metrics.Read(samples)
			if samples[0].Value.Kind() == metrics.KindFloat64 && samples[1].Value.Kind() == metrics.KindFloat64 {
				gc, all := samples[0].Value.Float64(), samples[1].Value.Float64()
				if all-lastAll >= 0.1 {
					share := (gc - lastGC) / (all - lastAll)
					switch {
					case share > gcShareHigh:
						limit += limit / 2
					case share < gcShareLow:
						limit = max(memoryFloor, limit-limit/5)
					}
					lastGC, lastAll = gc, all
				}
			}
			if samples[2].Value.Kind() == metrics.KindUint64 {
				limit = max(limit, int64(samples[2].Value.Uint64())+16<<20)
			}
			debug.SetMemoryLimit(limit)
			arm()
		})
	}
	arm()
	return func() { stopped.Store(true) }
}
