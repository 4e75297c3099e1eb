package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// exitBrokenPipe is what a shell reports for a process killed by SIGPIPE
// (128+13), so that `set -o pipefail` scripts see the same as before.
const exitBrokenPipe = 141

// errBrokenPipe is the cause of the command's context when stdout or
// stderr is a pipe nobody reads any more.
var errBrokenPipe = errors.New("broken pipe")

// pipeWatch turns a broken stdout or stderr (cairn ls | head -1) into a
// clean stop. Without it the runtime kills the process on the first write,
// leaving its lock behind. With SIGPIPE notified, writes fail with EPIPE
// instead; the watch then cancels the command's context so that it stops
// soon, its deferred clean-up (unlocking) runs, and main exits 141
// without a word.
type pipeWatch struct {
	sig    chan os.Signal
	seen   chan struct{} // closed once a broken output was found
	broken atomic.Bool
}

// watchBrokenPipe returns ctx, cancelled once stdout or stderr is found
// broken unless finish is set, and the watch to ask at exit. finish is for
// ingest: a reader that went away (`cairn ingest --json DIR | head -1`, a
// logger that died) does not abandon the backup, which would leave the
// script unable to tell from the exit code whether a snapshot was saved.
func watchBrokenPipe(ctx context.Context, finish bool) (context.Context, *pipeWatch) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &pipeWatch{sig: make(chan os.Signal, 1), seen: make(chan struct{})}
	signal.Notify(w.sig, syscall.SIGPIPE)
	go func() {
		for range w.sig {
			// SIGPIPE also comes from a socket whose peer went away
			// (storage): only our own outputs matter here.
			if outputBroken() && !w.broken.Swap(true) {
				close(w.seen)
				if !finish {
					cancel(errBrokenPipe)
				}
			}
		}
	}()
	return ctx, w
}

// Broken reports whether the command ended because of a broken stdout or
// stderr: a write failed with EPIPE there (err may say so, or the watch
// saw the signal). When the output is broken but no signal has been seen
// yet, it waits a moment for one, since a failed write raises it at once.
func (w *pipeWatch) Broken(err error) bool {
	if w.broken.Load() {
		return true
	}
	if !outputBroken() {
		return false
	}
	if errors.Is(err, syscall.EPIPE) {
		return true
	}
	select {
	case <-w.seen:
		return true
	case <-time.After(200 * time.Millisecond):
		return false
	}
}

// outputBroken reports whether stdout or stderr is a pipe (or socket)
// whose reading end is closed: poll says POLLERR for it.
func outputBroken() bool {
	fds := []unix.PollFd{{Fd: 1}, {Fd: 2}}
	n, err := unix.Poll(fds, 0)
	if err != nil || n == 0 {
		return false
	}
	for _, f := range fds {
		if f.Revents&unix.POLLERR != 0 {
			return true
		}
	}
	return false
}
