package main

import (
	"math"
	"runtime"
	"runtime/debug"
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

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s (limit now %d)", what, debug.SetMemoryLimit(-1))
}
