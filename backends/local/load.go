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
	if err := check(ctx, "load", name); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(name))
	if missing(err) {
		return nil, fmt.Errorf("load %s: %w", name, backends.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("load %s: %w", name, backends.ErrNotFound)
	}
	size := fi.Size()
	if offset < 0 || offset > size || length > size-offset {
		return nil, fmt.Errorf("load %s: %w: offset %d, length %d, size %d",
			name, backends.ErrRange, offset, length, size)
	}
	if length < 0 {
		length = size - offset
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if n < len(buf) {
		if err == nil || err == io.EOF {
			return nil, fmt.Errorf("load %s: %w: wanted %d bytes at offset %d, got %d (file truncated)",
				name, backends.ErrRange, length, offset, n)
		}
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	return buf, nil
}
