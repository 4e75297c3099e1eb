package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// memoryFloor is the soft memory limit cairn keeps while the
// collector keeps up with it easily. The collector keeps freed pages a
// while: near the limit the runtime returns them. Measured on the benchmark
// corpus against a fixed 112 MiB limit (when the pipelines' buffers were in
// sync.Pools, which the runtime also emptied), peak memory falls (a first
// ingest 121 -> 92 MiB, a restore 112 -> 81-97 MiB) in the same time. A limit
// that follows the live heap instead (1.25 or 1.5 times it) saves nothing:
// pooled buffers count as live.
const memoryFloor = 80 << 20

// defaultGCPercent is GOGC unless a command sets its own with setGCPercent:
// most of cairn's heap is large pooled byte buffers that the collector need
// not scan, so collecting sooner keeps the peak RSS low for little CPU.
const defaultGCPercent = 25

// minGCHeadroom is how far the heap may always grow between collections,
// whatever the percentage. A small command's live heap is a megabyte or
// two, and a quarter of that is nothing: an unchanged ingest of the
// benchmark corpus collected every 5 ms, hundreds of times, for a tenth of
// its CPU.
const minGCHeadroom = 8 << 20

// Past gcShareHigh of the CPU spent collecting (idle-time marking left
// out), the limit is too tight for what the command holds and grows by
// half; under gcShareLow it shrinks back towards the floor by a fifth.
const (
	gcShareHigh = 0.20
	gcShareLow  = 0.05
)

// gcPercent is the percentage commands set; GOGC in the environment
// overrides it.
var gcPercent atomic.Int64

func init() { gcPercent.Store(defaultGCPercent) }

// setGCPercent sets the collection percentage, unless GOGC is set.
func setGCPercent(p int) {
	if os.Getenv("GOGC") != "" {
		return
	}
	gcPercent.Store(int64(p))
	debug.SetGCPercent(p)
}

// gcPercentFor is the percentage for a live heap: the command's, or more,
// so that the heap may grow by at least minGCHeadroom. Not much more,
// though: the runtime never lets the heap goal fall below 4 MiB times the
// percentage, so a large percentage for a tiny live heap would let the
// heap grow far past live + minGCHeadroom.
func gcPercentFor(live int64) int {
	const runtimeMinimum = 4 << 20 // the runtime's heap minimum at GOGC 100
	p := min(minGCHeadroom*100/max(live, 1), (live+minGCHeadroom)*100/runtimeMinimum)
	return max(int(gcPercent.Load()), int(p))
}

// cores is how many processors the runtime found at start, before an
// ingest took one more (par.OneMoreProcessor).
var cores = runtime.GOMAXPROCS(0)

// memTuner keeps the soft memory limit: the floor while the collector
// keeps up, more while collecting takes much of the CPU (judged over at
// least a tenth of a CPU-second per core each time), and always within
// [live heap + 16 MiB, 2 × live heap + 32 MiB]: never so tight that the
// collector runs without end over a huge folder tree (a fixed limit
// cannot know), never so loose that it paces nothing. It also sets the
// collection percentage for the live heap (gcPercentFor).
type memTuner struct {
	mu      sync.Mutex
	stopped bool
	// What the environment sets is left alone.
	fixedLimit, fixedPercent bool
	limit                    int64
	lastGC                   float64 // collecting CPU-seconds, idle marking left out
	lastAll                  float64
	samples                  []metrics.Sample
}

// tuneMemory sets the command's percentage and the floor and starts the
// tuner, after every collection. GOMEMLIMIT in the environment leaves the limit
// as it sets it, GOGC the percentage. The returned stop ends the tuning
// (for tests).
func tuneMemory() (stop func()) {
	fixedLimit := os.Getenv("GOMEMLIMIT") != ""
	fixedPercent := os.Getenv("GOGC") != ""
	if !fixedPercent {
		debug.SetGCPercent(int(gcPercent.Load()))
	}
	if fixedLimit && fixedPercent {
		return func() {}
	}
	m := &memTuner{limit: memoryFloor, fixedLimit: fixedLimit, fixedPercent: fixedPercent, samples: []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/gc/heap/live:bytes"},
	}}
	if !fixedLimit {
		debug.SetMemoryLimit(m.limit)
	}
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

// adjust sets the limit and percentage after a collection; it reports
// whether to go on.
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
	// The runtime counts GOMAXPROCS × wall time as the CPU there was; with
	// a processor more than the cores (an ingest's) that overstates
	// it, and the collector's share would look smaller than it is.
	span := (all - m.lastAll) * float64(cores) / float64(runtime.GOMAXPROCS(0))
	if span >= 0.1*float64(cores) {
		switch share := (gc - m.lastGC) / span; {
		case share > gcShareHigh:
			m.limit += m.limit / 2
		case share < gcShareLow:
			m.limit -= m.limit / 5
		}
		m.lastGC, m.lastAll = gc, all
	}
	m.limit = min(m.limit, max(memoryFloor, 2*live+32<<20))
	m.limit = max(m.limit, memoryFloor, live+16<<20)
	if !m.fixedLimit {
		debug.SetMemoryLimit(m.limit)
	}
	if !m.fixedPercent {
		debug.SetGCPercent(gcPercentFor(live))
	}
	return true
}
