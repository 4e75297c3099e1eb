package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
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
	err := cmd.Run()
	out.flush()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s timed out after %s", strings.Join(h.Command, " "), timeout)
	}
	return fmt.Errorf("%s: %w", strings.Join(h.Command, " "), err)
}

// groupCommand makes a command that runs in its own process group, which
// is killed whole when ctx ends: a shell's children holding a pipe open
// must not outlive it.
func groupCommand(ctx context.Context, argv []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Output pipes held by a surviving grandchild must not hang Wait.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// lineLogger sends what a child writes to the log, one line per entry.
type lineLogger struct {
	mu     sync.Mutex
	logf   func(string, ...any)
	prefix string
	buf    []byte
}

var _ io.Writer = (*lineLogger)(nil)

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		l.logf("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.logf("%s%s", l.prefix, l.buf)
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.logf("%s%s", l.prefix, l.buf)
		l.buf = nil
	}
}

// syscallKillGroup kills a command's process group.
func syscallKillGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
