package ratelimit

import (
	"context"
	"sync"
	"time"
)

// bucket is a token bucket: tokens flow in at rate per second up to burst.
// A take larger than what is there runs the bucket into debt and waits for
// it to be paid, so one large object goes through at the average rate
// rather than being refused.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newBucket(rate float64, now func() time.Time) *bucket {
	burst := max(rate, 1) // one second's worth
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now(), now: now}
}

// reserve takes n tokens and returns how long to wait before using them.
func (b *bucket) reserve(n float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}
	b.tokens -= n
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// cancel gives back n tokens of a reservation that will not be used.
func (b *bucket) cancel(n float64) {
	b.mu.Lock()
	b.tokens = min(b.burst, b.tokens+n)
	b.mu.Unlock()
}

// wait takes n tokens, sleeping as long as needed. A nil bucket has no limit.
func (b *bucket) wait(ctx context.Context, n float64) error {
	if b == nil || n <= 0 {
		return ctx.Err()
	}
	d := b.reserve(n)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		b.cancel(n)
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
