// Package mem is a backend that keeps objects in memory, for unit tests and
// as the base that fault-injecting filters wrap. It honours the whole
// backends contract except durability: everything is gone with the process.
package mem

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/backends"
)

var _ backends.Backend = (*Mem)(nil)

type object struct {
	data    []byte // never aliased outside the map, never modified
	modTime time.Time
}

// Mem is an in-memory backend, safe for concurrent use. Save and Load copy
// bytes, so callers never share memory with a stored object.
type Mem struct {
	mu      sync.RWMutex
	objects map[string]object
	now     func() time.Time
}

// New returns an empty backend.
func New() *Mem {
	return NewWithClock(time.Now)
}

// NewWithClock returns an empty backend that stamps objects with the
// modification times now returns: a test's fake clock.
func NewWithClock(now func() time.Time) *Mem {
	return &Mem{objects: make(map[string]object), now: now}
}

// Location is "mem:" and an address that tells instances apart.
func (m *Mem) Location() string { return fmt.Sprintf("mem:%p", m) }

// Close does nothing; the objects stay readable for a test to inspect.
func (m *Mem) Close() error { return nil }

func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := backends.CheckName(name); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (m *Mem) Save(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "save", name); err != nil {
		return err
	}
	obj := object{data: append([]byte{}, data...), modTime: m.now()}
	m.mu.Lock()
	m.objects[name] = obj
	m.mu.Unlock()
	return nil
}

func (m *Mem) Create(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "create", name); err != nil {
		return err
	}
	obj := object{data: append([]byte{}, data...), modTime: m.now()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[name]; ok {
		return fmt.Errorf("create %s: %w", name, backends.ErrExists)
	}
	m.objects[name] = obj
	return nil
}

func (m *Mem) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	if err := check(ctx, "load", name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("load %s: %w", name, backends.ErrNotFound)
	}
	size := int64(len(obj.data))
	if offset < 0 || offset > size || length > size-offset {
		return nil, fmt.Errorf("load %s: %w: offset %d, length %d, size %d",
			name, backends.ErrRange, offset, length, size)
	}
	if length < 0 {
		length = size - offset
	}
	return append([]byte{}, obj.data[offset:offset+length]...), nil
}

func (m *Mem) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := check(ctx, "stat", name); err != nil {
		return backends.Info{}, err
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return backends.Info{}, fmt.Errorf("stat %s: %w", name, backends.ErrNotFound)
	}
	return backends.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime}, nil
}

// List reports the objects present when it starts; fn runs without the
// lock held, so it may call the backend.
func (m *Mem) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	if err := backends.CheckPrefix(prefix); err != nil {
		return err
	}
	var infos []backends.Info
	m.mu.RLock()
	for name, obj := range m.objects {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, backends.Info{Name: name, Size: int64(len(obj.data)), ModTime: obj.modTime})
		}
	}
	m.mu.RUnlock()
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mem) Remove(ctx context.Context, name string) error {
	if err := check(ctx, "remove", name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[name]; !ok {
		return fmt.Errorf("remove %s: %w", name, backends.ErrNotFound)
	}
	delete(m.objects, name)
	return nil
}
