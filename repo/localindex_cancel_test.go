package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends/mem"
)

// Open stops waiting for a local index another process holds as soon as
// its context ends: bbolt's wait (2 s) could not be stopped, so q in the
// TUI while the repository opened took that long to quit, and the
// opening went on to build a private index nobody wanted.
func TestOpenStopsWaitingForBusyIndex(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF}
	if err := Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	holder, err := Open(ctx, be, opt) // holds the shared local index
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var logs []string
	o := opt
	o.Log = func(format string, args ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	o.Progress = func(step string, _, _ int) {
		if step == "opening the local index" {
			cancel() // the user quits while it waits
		}
	}
	r, err := Open(cctx, be, o)
	if err == nil {
		r.Close()
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("open cancelled while waiting for the busy index: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) > 0 {
		t.Errorf("open went on after it was cancelled: %q", logs)
	}
}
