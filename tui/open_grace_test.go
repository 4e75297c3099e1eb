package tui

import (
	"context"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// An opening the user quit is waited for only openingGrace when it does
// not heed its cancel (it waits on a fifo where the published local index
// belongs, or on a storage that does not answer): before, stop waited for
// it forever and cairn tui, quit with q or ctrl+c, never exited.
func TestOpeningStopGivesUpOnStuckOpener(t *testing.T) {
	defer func(g time.Duration) { openingGrace = g }(openingGrace)
	openingGrace = 10 * time.Millisecond
	stuck, entered := make(chan struct{}), make(chan struct{})
	defer close(stuck)
	o := &opening{done: make(chan struct{}), open: func(ctx context.Context, _ func(string, int, int)) (*repo.Repository, string, error) {
		close(entered)
		<-stuck // deaf to ctx
		return nil, "", ctx.Err()
	}}
	go o.start(context.Background())()
	<-entered
	stopped := make(chan error, 1)
	go func() { _, err := o.stop(); stopped <- err }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("stop: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stop waits for an opening that does not heed its cancel")
	}
}
