package main

import (
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
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

// stdinCommand is a --stdin-from-command command, whose stderr may go
// through a relay of cairn's own pipe (journalRelay).
type stdinCommand struct {
	*exec.Cmd
	relay *daemon.JournalRelay
}

// journalRelay, when cairn's stderr is the journal's stream, relays the
// command's stderr through a pipe of cairn's own whose JOURNAL_STREAM the
// command is given, so its "<N>" priority prefixes reach the journal (see
// daemon.JournalRelay; the daemon's sources do the same). It reports
// false, changing nothing, when stderr is not the journal or the pipe
// cannot be made.
func (c *stdinCommand) journalRelay() bool {
	c.relay = daemon.NewJournalRelay(c.Cmd, &stderrRelay{})
	return c.relay != nil
}

// Start starts the command and, with journalRelay, the relay.
func (c *stdinCommand) Start() error {
	err := c.Cmd.Start()
	if c.relay != nil {
		c.relay.Started(err)
	}
	return err
}

// Wait waits for the command and then, with journalRelay, for the relay,
// by relayGrace at most (as exec's WaitDelay): past it the pipe is closed
// under whatever the command left behind holding it, and a command that
// succeeded gets exec.ErrWaitDelay.
func (c *stdinCommand) Wait() error {
	err := c.Cmd.Wait()
	if c.relay != nil && !c.relay.Wait(relayGrace) && err == nil {
		err = exec.ErrWaitDelay
	}
	return err
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
