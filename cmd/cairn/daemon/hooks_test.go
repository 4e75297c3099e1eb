package daemon

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A hook that starts a background process still holding its output (a
// helper it leaves running) succeeds when the hook itself does: the daemon
// stops reading that output instead of counting the hook as failed.
func TestHookLeavesBackgroundChild(t *testing.T) {
	defer func(d time.Duration) { hookWaitDelay = d }(hookWaitDelay)
	// Long enough for the output already written ("hi") to be read on a
	// loaded machine (the pipe is closed once the delay is over), shorter
	// than the background child holding it open.
	hookWaitDelay = 2 * time.Second
	log := &testLog{}
	err := runHook(context.Background(), Hook{Command: Command{"/bin/sh", "-c", "echo hi; sleep 10 &"}, Timeout: Duration(10 * time.Second)}, nil, log.logf, "hook")
	if err != nil {
		t.Fatalf("hook: %v", err)
	}
	if !strings.Contains(log.String(), "hook: hi") {
		t.Fatalf("log: %s", log)
	}
}

// A hook printing without end reaches the log only up to a bound.
func TestHookOutputBounded(t *testing.T) {
	log := &testLog{}
	// 20 MB in lines of 1000 bytes, and 20 MB in one line.
	for _, script := range []string{"yes $(head -c 999 /dev/zero | tr '\\0' x) | head -n 20000", "head -c 20000000 /dev/zero | tr '\\0' x"} {
		log.lines = nil
		err := runHook(context.Background(), Hook{Command: Command{"/bin/sh", "-c", script}, Timeout: Duration(time.Minute)}, nil, log.logf, "hook")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(log.String()); n > 2<<20 {
			t.Fatalf("%s: %d bytes of log", script, n)
		}
		if !strings.Contains(log.String(), "more bytes of output not logged") {
			t.Fatalf("%s: the log does not say output was dropped", script)
		}
	}
}
