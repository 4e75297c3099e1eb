package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// memoryFloor is the soft memory limit cairn keeps while the collector
// keeps up with it easily. The collector keeps freed pages a while: near
// the limit the runtime returns them. Measured on the benchmark corpus
// against a fixed 112 MiB limit (when the pipelines' buffers were in
// sync.Pools, which the runtime also emptied), peak memory falls (a first
// ingest 121 -> 92 MiB, a restore 112 -> 81-97 MiB) in the same time. A limit
// that follows the live heap instead (1.25 or 1.5 times it) saves nothing:
// pooled buffers count as live.
const memoryFloor = 80 << 20

// Past gcShareHigh of the CPU spent collecting (idle-time marking left
// out), the limit is too tight for what the command holds and grows by
// half; under gcShareLow it shrinks back towards the floor by a fifth.
const (
	gcShareHigh = 0.20
	gcShareLow  = 0.05
)

// memTuner keeps the soft memory limit: memoryFloor while the collector
// keeps up, more while collecting takes much of the CPU (judged over at
// least a tenth of a CPU-second per core each time), and always within
// [live heap + 16 MiB, 2 × live heap + 32 MiB]: never so tight that the
// collector runs without end over a huge folder tree (a fixed limit
// cannot know), never so loose that it paces nothing.
type memTuner struct {
	mu      sync.Mutex
	stopped bool
	limit   int64
	lastGC  float64 // collecting CPU-seconds, idle marking left out
	lastAll float64
	samples []metrics.Sample
}

// tuneMemory starts the tuner, after every collection. GOMEMLIMIT in the
// environment leaves the limit as it sets it. The returned stop ends the
// tuning (for tests).
func tuneMemory() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	m := &memTuner{limit: memoryFloor, samples: []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/gc/heap/live:bytes"},
	}}
	debug.SetMemoryLimit(m.limit)
	var arm func()
	arm = func() {
		// A finalizer runs after the collection that finds its object
		// unreachable: once per cycle, re-armed each time.
		runtime.SetFinalizer(new([16]byte), func(*[16]byte) {
			if m.adjust() {
				arm()
			}
		})
	}
	arm()
	return func() {
		m.mu.Lock()
		m.stopped = true
		m.mu.Unlock()
	}
}

// adjust sets the limit after a collection; it reports whether to go on.
func (m *memTuner) adjust() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false
	}
	metrics.Read(m.samples)
	for _, s := range m.samples {
		if s.Value.Kind() == metrics.KindBad {
			return false // a runtime without these metrics: keep the floor
		}
	}
	gc := m.samples[0].Value.Float64() - m.samples[1].Value.Float64()
	all := m.samples[2].Value.Float64()
	live := int64(m.samples[3].Value.Uint64())
	if all-m.lastAll >= 0.1*float64(runtime.GOMAXPROCS(0)) {
		switch share := (gc - m.lastGC) / (all - m.lastAll); {
		case share > gcShareHigh:
			m.limit += m.limit / 2
		case share < gcShareLow:
			m.limit -= m.limit / 5
		}
		m.lastGC, m.lastAll = gc, all
	}
	m.limit = min(m.limit, max(memoryFloor, 2*live+32<<20))
	m.limit = max(m.limit, memoryFloor, live+16<<20)
	debug.SetMemoryLimit(m.limit)
	return true
}
