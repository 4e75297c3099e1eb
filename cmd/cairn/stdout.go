package main

import (
	"errors"
	"io"
	"os"
	"sync"
)

// stdout is cairn's standard output: every command prints through it, so
// that a write that fails is not lost silently. `cairn snapshots --json >
// state.json` on a full disk, or with stdout closed, would otherwise exit
// 0 with nothing written; main turns the first failed write into exit 1
// (a broken pipe stays the silent 141 of sigpipe.go).
var stdout = newStdout()

func newStdout() *checkedWriter {
	if stdoutClosedAtStart() {
		return &checkedWriter{w: closedStdout{}}
	}
	return &checkedWriter{w: os.Stdout}
}

// closedStdout stands for a standard output that was closed when cairn
// started (`cairn snapshots >&-`): every write fails, so that what was to
// be printed is not lost silently with exit 0.
type closedStdout struct{}

func (closedStdout) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: errors.New("it was closed when cairn started")}
}

// checkedWriter remembers the first error of the writes through it.
type checkedWriter struct {
	w   io.Writer
	mu  sync.Mutex
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

// Err is the first write's error, if any failed.
func (c *checkedWriter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
