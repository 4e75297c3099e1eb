package main

import (
	"context"
	"io"
)

// stdinBufSize is the size of each of the two buffers cancelableStdin
// reads into.
const stdinBufSize = 256 << 10

// cancelableStdin reads r (standard input) so that a Read returns ctx's
// error as soon as ctx is done, even while r blocks: a read of a pipe or
// terminal cannot be interrupted, and ingest --stdin would otherwise wait
// for the end of its input before noticing Ctrl-C.
//
// A goroutine reads r into two buffers of its own, never into the
// caller's (which may be reused once Read has returned); the one blocked
// in r when ctx ends is left behind, as the process is about to exit.
// Setting the descriptor non-blocking to use read deadlines instead would
// change the file description shared with other processes (the shell's
// terminal, the other end's pipe).
func cancelableStdin(ctx context.Context, r io.Reader) io.Reader {
	c := &ctxReader{ctx: ctx, full: make(chan stdinChunk, 1), free: make(chan []byte, 2)}
	c.free <- make([]byte, stdinBufSize)
	c.free <- make([]byte, stdinBufSize)
	go c.fill(r)
	return c
}

type stdinChunk struct {
	buf []byte // a buffer from free; data is buf[:n]
	n   int
	err error
}

type ctxReader struct {
	ctx  context.Context
	full chan stdinChunk
	free chan []byte
	cur  stdinChunk // being consumed
	off  int
	err  error // sticky: r's error once its data is consumed
}

func (c *ctxReader) fill(r io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-c.free:
		case <-c.ctx.Done():
			return
		}
		n, err := r.Read(buf)
		select {
		case c.full <- stdinChunk{buf, n, err}:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	for c.off == c.cur.n {
		if c.err != nil {
			return 0, c.err
		}
		if c.cur.buf != nil {
			c.free <- c.cur.buf
			c.cur.buf = nil
		}
		select {
		case ch := <-c.full:
			c.cur, c.off, c.err = ch, 0, ch.err
		case <-c.ctx.Done():
			return 0, c.ctx.Err()
		}
	}
	n := copy(p, c.cur.buf[c.off:c.cur.n])
	c.off += n
	return n, nil
}
