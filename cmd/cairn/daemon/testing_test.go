package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/repo"
)

// testLog collects a daemon's log lines; safe to write after the test.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// newTestDaemon is a daemon on an in-memory repository, without socket,
// mount or metrics server; its runner is planned but not started.
func newTestDaemon(t *testing.T, cfg *Config) (*Daemon, *testLog) {
	t.Helper()
	log := &testLog{}
	d := &Daemon{deps: Deps{Version: "test", Logf: log.logf, ExitCode: func(err error) int {
		if err == nil {
			return exitOK
		}
		return exitFailure
	}}, logf: log.logf, r: repo.TestRepository(t), cfg: cfg, notify: &notifier{}, loc: "mem"}
	d.work, d.cancelWork = context.WithCancel(context.Background())
	d.metrics = newMetricsState(d)
	d.access.Store(newAccess(cfg))
	d.runner = newRunner(d, cfg)
	t.Cleanup(func() {
		d.runner.stop()
		d.runner.wait()
		d.cancelWork()
		if t.Failed() {
			t.Logf("daemon log:\n%s", log)
		}
	})
	return d, log
}
