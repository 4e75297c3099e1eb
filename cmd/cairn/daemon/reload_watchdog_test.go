package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
)

// hangingBackend's List waits, while hang is set, until its context ends
// or release is closed: storage that stopped answering.
type hangingBackend struct {
	backends.Backend
	hang    atomic.Bool
	release chan struct{}
}

func (b *hangingBackend) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if b.hang.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.release:
		}
	}
	return b.Backend.List(ctx, prefix, fn)
}

// A reload waiting on storage that hangs (it lists the snapshots) keeps
// pinging systemd's watchdog: missing it, systemd would kill the daemon
// and the backups it runs.
func TestReloadKeepsPingingWatchdog(t *testing.T) {
	dir := ownDir(t)
	notifyPath := filepath.Join(dir, "notify")
	conn, err := ListenUnixgram(notifyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", notifyPath)
	t.Setenv("WATCHDOG_USEC", "200000") // a ping every 100ms
	t.Setenv("WATCHDOG_PID", "")

	cfgPath := filepath.Join(dir, "cairn.yaml")
	y := "repository: /r\nhost: h\nsocket: " + filepath.Join(dir, "s") + "\nsources:\n  - name: a\n    paths: [" + dir + "]\n"
	if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	be := &hangingBackend{Backend: mem.New(), release: make(chan struct{})}
	r := repo.TestRepositoryOn(t, be)
	log := &testLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{ConfigPath: cfgPath, Version: "test", Logf: log.logf,
			Open: func(context.Context, *Config) (*repo.Repository, error) { return r, nil }})
	}()
	released, returned := false, false
	defer func() {
		cancel()
		if !released {
			close(be.release)
		}
		if returned {
			return
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return")
		}
	}()
	wait := func(what string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, what) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s within %s; log:\n%s", what, within, log)
			}
		}
	}
	wait("READY=1", 10*time.Second)
	be.hang.Store(true)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	wait("RELOADING=1", 5*time.Second)
	for range 3 {
		wait("WATCHDOG=1", time.Second)
	}

	// A stop during the hanging reload: the log's last word is
	// "stopped", and systemd hears no READY=1 after STOPPING=1.
	cancel()
	wait("STOPPING=1", 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	released = true
	close(be.release)
	select {
	case err := <-done:
		returned = true
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		returned = true // the deferred wait would not do better
		t.Fatal("Run did not return")
	}
	for len(msgs) > 0 {
		if m := <-msgs; strings.Contains(m, "READY=1") {
			t.Errorf("READY=1 after STOPPING=1: %q", m)
		}
	}
	lines := strings.Split(log.String(), "\n")
	if last := lines[len(lines)-1]; last != "stopped" {
		t.Errorf("the log ends with %q, want stopped; log:\n%s", last, log)
	}
}
