package main

import (
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// relayGrace is how long a --stdin-from-command command's stderr relay
// is waited for once the command has exited.
const relayGrace = 2 * time.Second

// stderrMayBreak reports whether cairn's stderr is a pipe or socket, whose
// reader may go away; a terminal, a file or /dev/null cannot break so.
func stderrMayBreak() bool {
	var st unix.Stat_t
	if unix.Fstat(2, &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFIFO || st.Mode&unix.S_IFMT == unix.S_IFSOCK
}

// stderrRelay writes to cairn's stderr until a write fails, and then
// drops what comes, always taking it all: the writer on the other side
// never sees an error.
type stderrRelay struct {
	broken atomic.Bool
}

func (r *stderrRelay) Write(p []byte) (int, error) {
	if !r.broken.Load() {
		if _, err := os.Stderr.Write(p); err != nil {
			r.broken.Store(true)
		}
	}
	return len(p), nil
}
