package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend {
		return New(mem.New(), Options{Requests: 1e6, Bytes: 1e12})
	})
}

func TestConformanceUnlimited(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend { return New(mem.New(), Options{}) })
}

// clock is a fake time that only moves when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func near(got, want time.Duration) bool {
	return got > want-time.Millisecond && got < want+time.Millisecond
}
func ms(n float64) time.Duration             { return time.Duration(n * float64(time.Millisecond)) }
func (c *clock) bucket(rate float64) *bucket { return newBucket(rate, c.now) }

func TestBucket(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	b := c.bucket(10) // 10 per second, a burst of 10
	for i := range 10 {
		if d := b.reserve(1); d != 0 {
			t.Fatalf("take %d of the burst waits %v", i, d)
		}
	}
	if d := b.reserve(1); !near(d, ms(100)) {
		t.Errorf("first take past the burst waits %v, want 100ms", d)
	}
	if d := b.reserve(1); !near(d, ms(200)) {
		t.Errorf("second take past the burst waits %v, want 200ms", d)
	}
	c.advance(time.Hour) // refills to the burst, no more
	for range 10 {
		b.reserve(1)
	}
	if d := b.reserve(1); !near(d, ms(100)) {
		t.Errorf("after a long pause the burst is not capped: wait %v", d)
	}

	big := c.bucket(1 << 20) // 1 MiB/s
	if d := big.reserve(16 << 20); !near(d, 15*time.Second) {
		t.Errorf("16 MiB at 1 MiB/s with 1 MiB in the bucket waits %v, want 15s", d)
	}
	big.cancel(16 << 20)
	if d := big.reserve(1 << 20); d != 0 {
		t.Errorf("a canceled reservation was not given back: wait %v", d)
	}
}

func TestWaitIsCanceled(t *testing.T) {
	b := New(mem.New(), Options{Requests: 1})
	b.Stat(t.Context(), "config") // takes the one token
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Stat(ctx, "config"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stat while out of tokens: %v, want the deadline", err)
	}
}

func TestCountsBytes(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	b := newWithClock(mem.New(), Options{Bytes: 1000}, c.now)
	ctx := t.Context()
	if err := b.Save(ctx, "data/ab/x", make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if d := b.bytes.reserve(0); !near(d, 0) {
		t.Errorf("bucket not emptied by a save of its size: %v", d)
	}
	if _, err := b.Load(ctx, "data/ab/x", 0, 10); err != nil {
		t.Fatal(err)
	}
	if d := b.bytes.reserve(0); !near(d, ms(10)) {
		t.Errorf("a 10-byte load left a debt of %v, want 10ms", d)
	}
}
