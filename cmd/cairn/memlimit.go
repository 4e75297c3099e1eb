package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// memoryFloor is the soft memory limit cairn keeps while its live heap is
// small. The collector keeps freed pages a while and the pipelines' pools
// hold buffers of many sizes: near the limit the runtime returns freed
// pages and drops pooled buffers. Measured on the benchmark corpus against
// a fixed 112 MiB limit, peak memory falls (an ingest after a 1% change
// 116 -> 90 MiB, a first ingest 122 -> 108 MiB, a restore 106 -> 98 MiB)
// in the same time.
const memoryFloor = 96 << 20

// tuneMemory sets the soft memory limit to memoryFloor, and after every
// collection to 1.5 times the live heap plus room for the runtime when
// that is more. main's GOGC of 25 collects at 1.25 times the live heap:
// the limit mostly makes the runtime return freed pages sooner, and once
// the live heap is large (a huge folder tree) it stays above the
// collector's own goal, so it can never keep the collector running
// without end, as a fixed limit below the live heap would. GOMEMLIMIT in
// the environment leaves the limit as it sets it.
// The returned stop ends the tuning (for tests).
func tuneMemory() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	debug.SetMemoryLimit(memoryFloor)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var stopped atomic.Bool
	var arm func()
	arm = func() {
		// A finalizer runs after the collection that finds its object
		// unreachable: once per cycle, re-armed each time.
		runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
			if stopped.Load() {
				return
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				live := int64(sample[0].Value.Uint64())
				debug.SetMemoryLimit(max(memoryFloor, live+live/2+16<<20))
			}
			arm()
		})
	}
	arm()
	return func() { stopped.Store(true) }
}
