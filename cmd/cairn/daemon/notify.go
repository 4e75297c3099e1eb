package daemon

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// notifier speaks systemd's sd_notify protocol: datagrams of
// "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET (a path, or
// an abstract name starting with '@'). Without the variable it does
// nothing, so the daemon runs the same outside systemd.
type notifier struct {
	addr string
}

func newNotifier() *notifier {
	return &notifier{addr: os.Getenv("NOTIFY_SOCKET")}
}

// send writes one message; failures are ignored, as systemd's own
// sd_notify lets callers do.
func (n *notifier) send(lines ...string) {
	if n == nil || n.addr == "" {
		return
	}
	// Go's address conversion turns a leading '@' into the abstract
	// namespace's NUL.
	c, err := dialUnix(context.Background(), "unixgram", n.addr)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write([]byte(strings.Join(lines, "\n") + "\n"))
}

// watchdogInterval is how often to send WATCHDOG=1: half of
// $WATCHDOG_USEC, when it is set for this process (WATCHDOG_PID).
func watchdogInterval() (time.Duration, bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond / 2, true
}
