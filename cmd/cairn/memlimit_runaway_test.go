package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// An allocation-heavy command with a small live heap spends much of its
// CPU collecting (GOGC 25) whatever the limit: the limit must
// not grow without bound (it would overflow and collapse below the floor),
// but stay within twice the live heap and 32 MiB, or at the floor.
func TestMemoryLimitDoesNotRunAway(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "25") // the percentage stays low, so collecting takes much CPU
	old := debug.SetGCPercent(25)
	stop := tuneMemory()
	defer func() {
		stop()
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(math.MaxInt64)
	}()
	live := make([][]byte, 16) // 16 MiB live
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	// Other tests of this binary may run meanwhile: the ceiling is
	// judged against the largest live heap seen, not this test's own.
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak, collapsed, maxLive int64
	start := time.Now()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for i := 0; i < 2000; i++ {
			churn = make([]byte, 4<<10)
		}
		metrics.Read(s)
		maxLive = max(maxLive, int64(s[0].Value.Uint64()))
		l := debug.SetMemoryLimit(-1)
		if l > peak {
			peak = l
		}
		if peak > 1<<60 && l < 1<<30 {
			collapsed = l
			break
		}
	}
	runtime.KeepAlive(live)
	t.Logf("live heap at most %d MiB, limit reached %d MiB", maxLive>>20, peak>>20)
	if collapsed != 0 {
		t.Errorf("after %v the limit overflowed and collapsed to %d MiB (below the floor)", time.Since(start).Round(time.Millisecond), collapsed>>20)
	}
	// (16 MiB of slack: a collection between two samples may have seen
	// a little more.)
	if ceiling := max(memoryFloor, 2*maxLive+48<<20); peak > ceiling {
		t.Errorf("limit grew to %d MiB for a live heap of at most %d MiB (ceiling %d MiB)", peak>>20, maxLive>>20, ceiling>>20)
	}
}

var churn []byte
