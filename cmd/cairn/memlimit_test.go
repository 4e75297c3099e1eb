package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// The soft memory limit starts at the floor, and rises above a live heap
// that outgrows it, so a command holding a huge tree never collects
// without end; when the heap shrinks, it comes back down (to the floor
// when nothing else in the process holds much).
func TestMemoryLimitFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	stop := tuneMemory()
	defer func() {
		stop()
		debug.SetMemoryLimit(math.MaxInt64)
	}()
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	if got := limit(); got != memoryFloor {
		t.Fatalf("limit %d, want the floor %d", got, memoryFloor)
	}
	// A live heap of 256 MiB.
	live := make([][]byte, 256)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	waitUntil(t, func() bool { runtime.GC(); return limit() >= 256<<20+16<<20 }, "the limit to rise above a 256 MiB live heap")
	runtime.KeepAlive(live)
	live = nil
	waitUntil(t, func() bool {
		// Work that is not collecting, so the collector's share falls.
		for i := 0; i < 1e7; i++ {
			sink += i
		}
		runtime.GC()
		return limit() < 160<<20
	}, "the limit to come back down")
}

var sink int

// A small live heap may grow by minGCHeadroom before the next collection,
// not by a quarter of itself, nor by much more; a large one by the
// command's percentage.
func TestGCPercentFor(t *testing.T) {
	for _, live := range []int64{0, 100 << 10, 1 << 20, 3 << 20, 8 << 20, 20 << 20, 31 << 20, 64 << 20, 1 << 30} {
		p := int64(gcPercentFor(live))
		// The runtime's heap goal, with its minimum of 4 MiB at GOGC 100.
		growth := max(4<<20*p/100, live*(100+p)/100) - live
		if live*defaultGCPercent/100 >= minGCHeadroom {
			if p != defaultGCPercent {
				t.Errorf("live heap %d KiB: GOGC %d, want %d", live>>10, p, defaultGCPercent)
			}
			continue
		}
		if growth < minGCHeadroom*9/10 || growth > 2*minGCHeadroom {
			t.Errorf("live heap %d KiB: GOGC %d lets the heap grow by %d KiB, want about %d", live>>10, p, growth>>10, minGCHeadroom>>10)
		}
	}
}

// The tuner sets that percentage after each collection.
func TestGCPercentFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	stop := tuneMemory()
	defer func() {
		stop()
		debug.SetGCPercent(defaultGCPercent)
		debug.SetMemoryLimit(math.MaxInt64)
	}()
	percent := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	live := func() int64 {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		return int64(s[0].Value.Uint64())
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		runtime.GC()
		// The tuner runs in a finalizer, after the collection.
		time.Sleep(5 * time.Millisecond)
		p, l := percent(), live()
		if p == gcPercentFor(l) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the percentage does not follow the live heap: GOGC %d for a live heap of %d bytes, want %d", p, l, gcPercentFor(l))
		}
	}
	big := make([][]byte, 256) // a live heap of 256 MiB
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	waitUntil(t, func() bool { runtime.GC(); return percent() == defaultGCPercent }, "the percentage to fall back for a 256 MiB live heap")
	runtime.KeepAlive(big)
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s (limit now %d, GOGC %d)", what, debug.SetMemoryLimit(-1), debug.SetGCPercent(-1))
}
