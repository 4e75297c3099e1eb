package repo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
)

// pairedLoads holds each Load of a key file until a second one is in
// flight: key files read one after the other never get there.
type pairedLoads struct {
	backends.Backend
	mu       sync.Mutex
	inFlight int
	both     chan struct{}
	once     sync.Once
	serial   bool // a Load waited for a second in vain
}

func (b *pairedLoads) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if strings.HasPrefix(name, "keys/") {
		b.mu.Lock()
		b.inFlight++
		if b.inFlight >= 2 {
			b.once.Do(func() { close(b.both) })
		}
		b.mu.Unlock()
		select {
		case <-b.both:
		case <-time.After(10 * time.Second):
			b.mu.Lock()
			b.serial = true
			b.mu.Unlock()
			return nil, errors.New("key files read one at a time")
		}
	}
	return b.Backend.Load(ctx, name, off, n)
}

// Every key file is read before any is tried (the cheapest first), so a
// repository with many keys, on S3, paid a round trip per key file, one
// after the other, before every command. They are read several at once.
func TestKeyFilesReadAtOnce(t *testing.T) {
	ctx := context.Background()
	be := &pairedLoads{Backend: mem.New(), both: make(chan struct{})}
	close(be.both) // init and open as usual
	r := TestRepositoryOn(t, be)
	b, err := be.Backend.Load(ctx, r.keyName, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, "keys/"+strings.Repeat("00", 32), b); err != nil {
		t.Fatal(err)
	}
	be.both, be.once = make(chan struct{}), sync.Once{}
	be.inFlight = 0
	if _, _, err := unlock(ctx, be, []byte(TestPassword), r.cfg.verify); err != nil {
		t.Fatal(err)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if be.serial {
		t.Fatal("key files read one at a time")
	}
}
