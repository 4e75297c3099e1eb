package chunker

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cairn-backup/cairn/repo/bufpool"
)

// With the size an ingest always gives (a data region's), the last chunk
// of a stream fits the buffer sized for it: it is not grown (a second
// buffer and a copy of all read so far) to find the stream's end.
func TestSizedBufferDoesNotGrow(t *testing.T) {
	tab := testTable(31)
	p := Params{Min: 512 << 10, Max: 8 << 20, Bits: 20} // DefaultChunker
	data := randomBytes(32, 3<<20)
	bad := 0
	for size := 520 << 10; size <= 3<<20; size += 37 << 10 {
		d := data[:size]
		ch := New(bytes.NewReader(d), int64(size), tab, p)
		var last []byte
		for {
			c, err := ch.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			// Not handed back: the cache would lend them to the
			// next Gets, whose capacities say less then.
			last = c
		}
		if len(last)+1 <= startSize {
			// A buffer sized for the chunk holds up to twice its
			// class's size (a free one of a larger class); a grown one
			// at least twice it, and more unless both sizes fall on
			// class bounds.
			want := bufpool.SizeFor(len(last) + 1)
			if cap(last) < want || cap(last) > 2*want {
				bad++
				t.Logf("stream %d KiB: last chunk %d KiB in a buffer of %d KiB, sized for it: %d KiB (grown and copied)",
					size>>10, len(last)>>10, cap(last)>>10, want>>10)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d streams grew the buffer that was sized for their last chunk", bad)
	}
}
