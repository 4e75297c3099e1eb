package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
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

// stdinCommand is a --stdin-from-command command, whose stderr may go
// through a relay of cairn's own pipe (journalRelay).
type stdinCommand struct {
	*exec.Cmd
	pw   *os.File      // the pipe's write end, closed here once started
	pr   *os.File      // its read end, which the relay drains
	done chan struct{} // closed when the relay has read it all
}

// journalRelay, when cairn's stderr is the journal's stream, relays the
// command's stderr through a pipe of cairn's own and sets the command's
// JOURNAL_STREAM to that pipe: a program that checks JOURNAL_STREAM
// against its stderr, as systemd-aware ones do, writes its "<N>" priority
// prefixes, which the relay passes on as they are and journald turns into
// levels. Handing the command the stream itself would do as much, but a
// journald stopped or crashed mid-run would then kill it with SIGPIPE (a
// Go parent resets the SIGPIPE that systemd ignores to its default in its
// children), and a nightly dump with it. It reports false, changing
// nothing, when stderr is not the journal or the pipe cannot be made.
func (c *stdinCommand) journalRelay() bool {
	if !stderrIsJournal() {
		return false
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(int(pw.Fd()), &st) != nil {
		pr.Close()
		pw.Close()
		return false
	}
	c.Env = append(os.Environ(), fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	c.Stderr, c.pw, c.pr, c.done = pw, pw, pr, make(chan struct{})
	return true
}

// Start starts the command and, with journalRelay, the relay.
func (c *stdinCommand) Start() error {
	err := c.Cmd.Start()
	if c.pw == nil {
		return err
	}
	c.pw.Close() // the command holds it now
	if err != nil {
		c.pr.Close()
		close(c.done)
		return err
	}
	go func() {
		io.Copy(&stderrRelay{}, c.pr)
		close(c.done)
	}()
	return nil
}

// Wait waits for the command and then, with journalRelay, for the relay,
// by relayGrace at most (as exec's WaitDelay): past it the pipe is closed
// under whatever the command left behind holding it, and a command that
// succeeded gets exec.ErrWaitDelay.
func (c *stdinCommand) Wait() error {
	err := c.Cmd.Wait()
	if c.pr == nil {
		return err
	}
	t := time.NewTimer(relayGrace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		if err == nil {
			err = exec.ErrWaitDelay
		}
	}
	c.pr.Close()
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
