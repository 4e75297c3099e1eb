package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// untilKilled is ctx, a request's, for the waits of a read, a lookup or a
// listing, with timeout, ended early only when the calling program is
// told to stop. The kernel interrupts a request on any signal its caller
// takes, SIGCHLD, SIGWINCH, SIGALRM or SIGUSR1 to a program with a
// handler included: answering those with EINTR, which reads of a local
// file never return, failed reads that no one asked to stop (cp and tar
// report an error for the file, rsync fills a block with zeros and sends
// the file again). A kill, Ctrl-C, SIGTERM, SIGHUP or SIGQUIT still
// answers at once, caught or not (dd and rsync catch SIGINT to report
// and clean up), so that the program stops without waiting for stalled
// storage.
func untilKilled(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	caller, ok := fuse.FromContext(ctx)
	if !ok || caller.Pid == 0 {
		return out, cancel
	}
	stop := context.AfterFunc(ctx, func() {
		// Interrupted: the kernel says that once per request, so a
		// stop that comes later is looked for until the request ends.
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for !callerStopping(caller.Pid) {
			select {
			case <-out.Done():
				return
			case <-t.C:
			}
		}
		cancel()
	})
	return out, func() { stop(); cancel() }
}

// stopSignals are the signals that ask a program to stop. A signal that
// ends a program which does not catch it is made SIGKILL for all its
// threads by the kernel.
const stopSignals = 1<<(unix.SIGKILL-1) | 1<<(unix.SIGINT-1) | 1<<(unix.SIGTERM-1) | 1<<(unix.SIGHUP-1) | 1<<(unix.SIGQUIT-1)

// callerStopping says the thread pid (a request's caller) has a signal
// pending that asks it to stop, or is gone. The signal that interrupted
// its request is still pending: the thread handles it once the request
// returns.
func callerStopping(pid uint32) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return errors.Is(err, iofs.ErrNotExist)
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, key := range []string{"SigPnd:", "ShdPnd:"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err == nil && m&stopSignals != 0 {
					return true
				}
			}
		}
	}
	return false
}
