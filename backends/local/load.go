package local

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/cairn-backup/cairn/backends"
)

// Load reads the range with one pread. A file shorter than its size said a
// moment before (truncated meanwhile) is reported as ErrRange.
func (l *Local) Load(ctx context.Context, name string, offset, length int64) ([]byte, error) {
	var out []byte
	err := l.load(ctx, name, offset, length, func(n int64) []byte {
		out = make([]byte, n)
		return out
	})
	return out, err
}

// LoadInto reads len(buf) bytes at offset into buf, with Load's errors.
func (l *Local) LoadInto(ctx context.Context, name string, offset int64, buf []byte) error {
	return l.load(ctx, name, offset, int64(len(buf)), func(int64) []byte { return buf })
}

// load checks the range against the file and preads it into the buffer
// that alloc returns for the range's length.
func (l *Local) load(ctx context.Context, name string, offset, length int64, alloc func(int64) []byte) error {
	if err := check(ctx, "load", name); err != nil {
		return err
	}
	f, size, done, err := l.openForLoad(name)
	if err != nil {
		return err
	}
	defer done()
	if offset < 0 || offset > size || length > size-offset {
		return fmt.Errorf("load %s: %w: offset %d, length %d, size %d",
			name, backends.ErrRange, offset, length, size)
	}
	if length < 0 {
		length = size - offset
	}
	buf := alloc(length)
	n, err := f.ReadAt(buf, offset)
	if n < len(buf) {
		if err == nil || err == io.EOF {
			return fmt.Errorf("load %s: %w: wanted %d bytes at offset %d, got %d (file truncated)",
				name, backends.ErrRange, length, offset, n)
		}
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// openForLoad opens name's file, or takes the one kept open, and returns
// it with its size and what to call when done with it.
func (l *Local) openForLoad(name string) (*os.File, int64, func(), error) {
	of, gen := l.open.get(name)
	if of != nil {
		return of.f, of.size, func() { l.open.put(of) }, nil
	}
	f, err := os.Open(l.path(name))
	if missing(err) {
		return nil, 0, nil, fmt.Errorf("load %s: %w", name, backends.ErrNotFound)
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("load %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("load %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, nil, fmt.Errorf("load %s: %w", name, backends.ErrNotFound)
	}
	if of := l.open.add(name, f, fi.Size(), gen); of != nil {
		return of.f, of.size, func() { l.open.put(of) }, nil
	}
	return f, fi.Size(), func() { f.Close() }, nil
}

var _ backends.LoaderInto = (*Local)(nil)
