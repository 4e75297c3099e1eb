package main

import (
	"fmt"
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

// stderrIsJournal reports whether cairn's stderr is the systemd journal's
// stream, as JOURNAL_STREAM ("DEVICE:INODE") says when it matches fd 2.
// A program handed that stream itself may write "<N>" priority prefixes,
// which journald turns into levels; behind a relay (a pipe) it sees no
// journal and writes none.
func stderrIsJournal() bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(2, &st) != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
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
