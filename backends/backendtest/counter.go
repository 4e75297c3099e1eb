package backendtest

import (
	"context"
	"sync"

	"github.com/cairn-backup/cairn/backends"
)

// Counter is a backend that passes every call to the one it wraps and
// counts the calls by kind ("save", "create", "load", "stat", "list",
// "remove"; LoadInto counts as "load"), for tests of filters.
type Counter struct {
	backends.Backend
	mu    sync.Mutex
	calls map[string]int
}

// Count wraps b.
func Count(b backends.Backend) *Counter {
	return &Counter{Backend: b, calls: make(map[string]int)}
}

// Unwrap returns the wrapped backend.
func (c *Counter) Unwrap() backends.Backend { return c.Backend }

// Calls returns how many calls of kind op were made so far.
func (c *Counter) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *Counter) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

func (c *Counter) Save(ctx context.Context, name string, data []byte) error {
	c.count("save")
	return c.Backend.Save(ctx, name, data)
}

func (c *Counter) Create(ctx context.Context, name string, data []byte) error {
	c.count("create")
	return c.Backend.Create(ctx, name, data)
}

func (c *Counter) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	c.count("load")
	return c.Backend.Load(ctx, name, offset, length)
}

func (c *Counter) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	c.count("load")
	return backends.LoadInto(ctx, c.Backend, name, offset, buf)
}

func (c *Counter) Stat(ctx context.Context, name string) (backends.Info, error) {
	c.count("stat")
	return c.Backend.Stat(ctx, name)
}

func (c *Counter) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	c.count("list")
	return c.Backend.List(ctx, prefix, fn)
}

func (c *Counter) Remove(ctx context.Context, name string) error {
	c.count("remove")
	return c.Backend.Remove(ctx, name)
}
