package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// runHook runs one hook with env added to the daemon's environment. Its
// output goes to the log, a line at a time. On timeout (or when ctx ends)
// its whole process group is killed, so a shell's children go too.
func runHook(ctx context.Context, h Hook, env []string, logf func(string, ...any), what string) error {
	if len(h.Command) == 0 {
		return errors.New("hook has no command")
	}
	timeout := time.Duration(h.Timeout)
	if timeout <= 0 {
		timeout = time.Duration(DefaultHookTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := groupCommand(ctx, h.Command)
	cmd.Env = append(os.Environ(), env...)
	out := &lineLogger{logf: logf, prefix: what + ": "}
	cmd.Stdout, cmd.Stderr = out, out
	err := runLogged(cmd, out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrWaitDelay):
		// The hook exited 0 but left a process holding its output:
		// that process may go on (a helper it started); we stop
		// reading it.
		logf("%sexited, leaving a process that holds its output; no longer logging it", what+": ")
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s timed out after %s", ShellWords(h.Command), timeout)
	}
	return fmt.Errorf("%s: %w", ShellWords(h.Command), err)
}

// groupCommand makes a command that runs in its own process group, which
// is killed whole when ctx ends: a shell's children holding a pipe open
// must not outlive it.
func groupCommand(ctx context.Context, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Output pipes held by a surviving grandchild must not hang Wait.
	cmd.WaitDelay = hookWaitDelay
	return cmd
}

// startLogged starts cmd, whose stderr (and stdout, when the same) is
// out, through a JournalRelay when the daemon's stderr is the journal, so
// that the "<N>" levels of a systemd-aware command reach it. The returned
// wait waits for cmd and for its output to be logged; a command that
// succeeded but left a process holding its output gets exec.ErrWaitDelay
// after hookWaitDelay.
func startLogged(cmd *exec.Cmd, out *lineLogger) (wait func() error, err error) {
	relay := NewJournalRelay(cmd, out)
	out.levels = relay != nil
	err = cmd.Start()
	if relay != nil {
		relay.Started(err)
	}
	if err != nil {
		return nil, err
	}
	return func() error {
		err := cmd.Wait()
		if relay != nil && !relay.Wait(hookWaitDelay) && err == nil {
			err = exec.ErrWaitDelay
		}
		out.flush()
		return err
	}, nil
}

// runLogged runs cmd as startLogged does.
func runLogged(cmd *exec.Cmd, out *lineLogger) error {
	wait, err := startLogged(cmd, out)
	if err != nil {
		return err
	}
	return wait()
}

// hookWaitDelay is how long a command's output is still read after it
// exited (tests shorten it).
var hookWaitDelay = 5 * time.Second

// maxLogged bounds what one child may write to the log: a hook that
// prints without end must not flood the journal.
const maxLogged = 1 << 20

// lineLogger sends what a child writes to the log, one line per entry.
type lineLogger struct {
	mu      sync.Mutex
	logf    func(string, ...any)
	prefix  string
	buf     []byte
	logged  int   // bytes sent to the log
	dropped int64 // bytes past maxLogged, not logged
	// levels: the log is the journal and the child was told so; a
	// line's "<N>" priority prefix is moved before prefix, where
	// journald reads it.
	levels bool
}

var _ io.Writer = (*lineLogger)(nil)

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logged >= maxLogged {
		l.dropped += int64(len(p))
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	for l.logged < maxLogged {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 && l.logged < maxLogged {
		l.emit(l.buf)
		l.buf = nil
	}
	if l.logged >= maxLogged {
		l.dropped += int64(len(l.buf))
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineLogger) emit(line []byte) {
	if l.levels && len(line) >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>' {
		l.logf("%s%s%s", line[:3], l.prefix, line[3:])
	} else {
		l.logf("%s%s", l.prefix, line)
	}
	l.logged += len(line) + 1
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
	if l.dropped > 0 {
		l.logf("%s%d more %s of output not logged", l.prefix, l.dropped, pluralWord(l.dropped, "byte", "bytes"))
		l.dropped = 0
	}
}

// syscallKillGroup kills a command's process group.
func syscallKillGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
