package local_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

// A Load racing a Remove of a kept object never keeps the removed file:
// once Remove returns, the object reads as missing (and its disk space is
// not held by an open file).
func TestRemoveRacingLoadKeepsNothing(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t, t.TempDir())
	l.KeepOpen("data/")
	defer l.Close()
	hits := 0
	const trials = 300
	for i := range trials {
		name := fmt.Sprintf("data/ab/pack%d", i)
		if err := l.Create(ctx, name, []byte("pack bytes")); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if _, err := l.Load(ctx, name, 0, -1); errors.Is(err, backends.ErrNotFound) {
						return
					}
				}
			}()
		}
		if err := l.Remove(ctx, name); err != nil {
			t.Fatal(err)
		}
		stop.Store(true)
		wg.Wait()
		if b, err := l.Load(ctx, name, 0, -1); err == nil {
			hits++
			if hits == 1 {
				t.Errorf("trial %d: Load after Remove returned %q, want ErrNotFound", i, b)
			}
		}
	}
	if hits > 0 {
		t.Errorf("%d of %d removed objects still loadable after Remove returned", hits, trials)
	}
}
