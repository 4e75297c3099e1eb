package backends

import (
	"context"
	"fmt"
)

// LoadInto loads len(buf) bytes of name at offset into buf, through b's
// LoaderInto when it has one and with Load and a copy otherwise. Filters use
// it to offer LoadInto over any backend.
func LoadInto(ctx context.Context, b Backend, name string, offset int64, buf []byte) error {
	if li, ok := b.(LoaderInto); ok {
		return li.LoadInto(ctx, name, offset, buf)
	}
	data, err := b.Load(ctx, name, offset, int64(len(buf)))
	if err != nil {
		return err
	}
	if len(data) != len(buf) {
		return fmt.Errorf("load %s: got %d bytes at offset %d, want %d", name, len(data), offset, len(buf))
	}
	copy(buf, data)
	return nil
}
