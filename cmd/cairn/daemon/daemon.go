package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
)

// Deps is what the daemon needs from the cairn command, which owns the
// flags, the storage options and the password.
type Deps struct {
	// ConfigPath is read again on SIGHUP.
	ConfigPath string
	// Socket, when set, overrides the config's socket (--socket).
	Socket string
	// Open opens the repository the config names.
	Open func(ctx context.Context, cfg *Config) (*repo.Repository, error)
	// OpenCopy opens the repository of one of the config's copies, with
	// the copy's password and storage options.
	OpenCopy func(ctx context.Context, cfg *Config, c *Copy) (*repo.Repository, error)
	// ExitCode maps an error to the CLI's exit code, for clients.
	ExitCode func(error) int
	// Version is recorded in snapshots and reported by info.
	Version string
	// Logf writes one line of the daemon's log.
	Logf func(format string, args ...any)
	// StateDir, when set, is where the daemon keeps when the scheduled
	// check and prune last ran (the local index's folder).
	StateDir string
}

// Daemon is one running daemon.
type Daemon struct {
	deps Deps
	logf func(string, ...any)
	r    *repo.Repository
	loc  string // the repository location it was opened with

	cfgMu sync.Mutex
	cfg   *Config

	runner  *runner
	mount   *liveMount
	metrics *metricsState
	notify  *notifier
	access  atomic.Pointer[access] // replaced on reload
	// passwords checks the passwords callers give, and remembers those
	// that passed.
	passwords passwords

	// work is the context of every run and ingest: cancelled when a
	// SIGTERM's stop_timeout has passed.
	work       context.Context
	cancelWork context.CancelFunc
	stopMu     sync.Mutex // orders begin's Add before shutdown's Wait
	stopping   atomic.Bool
	active     sync.WaitGroup // runs and socket ingests in progress
	running    atomic.Int32   // how many, for the log

	ingestsMu sync.Mutex
	ingests   map[*IngestStatus]bool // socket ingests, for status

	// copying serialises the copies into each copy destination, by name.
	copying sync.Map // string -> *sync.Mutex
}

// Run runs the daemon with cfg until ctx ends (SIGTERM, SIGINT), then
// stops taking work, lets running ingests finish for up to stop_timeout,
// aborts the rest (a snapshot is committed whole or not at all), unmounts
// and removes the socket. It returns nil after a clean stop; an error only
// when it could not start.
func Run(ctx context.Context, cfg *Config, deps Deps) error {
	if deps.Logf == nil {
		deps.Logf = func(string, ...any) {}
	}
	if deps.ExitCode == nil {
		deps.ExitCode = func(err error) int {
			if err == nil {
				return exitOK
			}
			return exitFailure
		}
	}
	d := &Daemon{deps: deps, logf: deps.Logf, cfg: cfg, notify: newNotifier(), loc: cfg.Repository}
	d.work, d.cancelWork = context.WithCancel(context.Background())
	defer d.cancelWork()
	d.notify.send("STATUS=opening the repository")

	// SIGHUP is caught from the start: the default would kill us.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	socket := cfg.Socket
	if deps.Socket != "" {
		socket = deps.Socket
	}
	// Before opening anything: a second daemon must not wait for the
	// local index or stack a mount on the first one's, only to fail.
	if err := socketFree(socket); err != nil {
		return err
	}

	r, err := deps.Open(ctx, cfg)
	if err != nil {
		return err
	}
	d.r = r
	defer r.Close()

	d.metrics = newMetricsState(d)
	stopMetrics, err := d.metrics.serve(cfg)
	if err != nil {
		return err
	}
	defer stopMetrics()

	if cfg.Mount != nil && cfg.Mount.Path != "" {
		d.notify.send("STATUS=mounting " + cfg.Mount.Path)
		m, err := startMount(ctx, d, cfg.Mount)
		if err != nil {
			return err
		}
		d.mount = m
		defer m.stop()
	}

	d.access.Store(newAccess(cfg))
	ln, err := listenSocket(socket, cfg)
	if err != nil {
		return err
	}
	// The handlers use the runner: make it before the first request.
	d.runner = newRunner(d, cfg)
	srv, sl := d.server(ln)
	go srv.Serve(sl)
	defer srv.Close() // closes ln, which removes the socket file
	d.runner.start()

	d.logf("cairn daemon %s serving %s on %s (pid %d)", deps.Version, cfg.Repository, socket, os.Getpid())
	d.notify.send("READY=1", "STATUS="+d.statusLine())

	var watchdog <-chan time.Time
	if every, ok := watchdogInterval(); ok {
		t := time.NewTicker(every)
		defer t.Stop()
		watchdog = t.C
	}
	// Reloads run beside this loop: one lists the snapshots, which on
	// storage that hangs takes up to a minute and more, and meanwhile the
	// watchdog must still be pinged (systemd would kill the daemon and
	// its running backups) and SIGTERM heard. A SIGHUP during a reload
	// makes one more after it.
	reloads := make(chan struct{}, 1)
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		for range reloads {
			if !d.stopping.Load() {
				d.reload()
			}
		}
	}()
	endReloads := sync.OnceFunc(func() { close(reloads); <-reloaded })
	defer endReloads()
	for {
		select {
		case <-ctx.Done():
			d.shutdown(srv, endReloads)
			return nil
		case <-hup:
			select {
			case reloads <- struct{}{}:
			default: // one is queued already
			}
		case <-watchdog:
			d.notify.send("WATCHDOG=1")
		}
	}
}

// config returns the config in force.
func (d *Daemon) config() *Config {
	d.cfgMu.Lock()
	defer d.cfgMu.Unlock()
	return d.cfg
}

func (d *Daemon) statusLine() string {
	cfg := d.config()
	s := fmt.Sprintf("serving %s: %s", cfg.Repository, plural(len(cfg.Sources), "source"))
	if d.mount != nil {
		s += ", mounted at " + d.mount.dir
	}
	return s
}

// reload reads the config file again (SIGHUP). A config with a mistake is
// refused and the old one stays in force; so is one that changes what
// needs a restart (the repository and how it is opened, the socket, the
// mount, the metrics address).
func (d *Daemon) reload() {
	d.notify.send("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()))
	defer func() {
		// A stop that came during the reload has said STOPPING=1.
		if !d.stopping.Load() {
			d.notify.send("READY=1", "STATUS="+d.statusLine())
		}
	}()
	// Passwords are checked again: one removed (cairn key remove) or
	// changed (cairn passwd) since stops working through the socket.
	d.passwords.forget()
	if d.deps.ConfigPath == "" {
		d.logf("reload: no config file to read")
		return
	}
	cfg, err := Load(d.deps.ConfigPath)
	if err != nil {
		// Every problem, one per line, as at startup.
		for _, e := range problems(err) {
			d.logf("reload refused, keeping the running config: %v", e)
		}
		return
	}
	old := d.config()
	if why := needsRestart(old, cfg); why != "" {
		d.logf("reload refused, keeping the running config: %s changed, which needs a restart of the daemon", why)
		return
	}
	d.cfgMu.Lock()
	d.cfg = cfg
	d.cfgMu.Unlock()
	d.access.Store(newAccess(cfg))
	d.runner.replan(cfg)
	d.metrics.dropRemoved(old, cfg)
	if d.stopping.Load() {
		return // not "reloaded" after "stopped" in the log
	}
	d.logf("reloaded %s: %s", d.deps.ConfigPath, plural(len(cfg.Sources), "source"))
}

// needsRestart names the first setting that differs between a and b and
// that the running daemon cannot change in place.
func needsRestart(a, b *Config) string {
	switch {
	case a.Repository != b.Repository:
		return "repository"
	case a.PasswordFile != b.PasswordFile || a.PasswordCommand != b.PasswordCommand:
		return "the password setting"
	case a.CacheDir != b.CacheDir:
		return "cache_dir"
	case a.Host != b.Host:
		return "host"
	case a.Connections != b.Connections || a.S3VirtualHost != b.S3VirtualHost || a.Retries != b.Retries ||
		!sameBoolPtr(a.VerifyWrites, b.VerifyWrites) || !sameBoolPtr(a.MetadataCache, b.MetadataCache) ||
		a.LimitRequests != b.LimitRequests || a.LimitBytes != b.LimitBytes:
		return "a storage option"
	case a.Socket != b.Socket || a.SocketGroup != b.SocketGroup || socketMode(a) != socketMode(b):
		return "the socket"
	case (a.Mount == nil) != (b.Mount == nil) || (a.Mount != nil && *a.Mount != *b.Mount):
		return "mount"
	case metricsListen(a) != metricsListen(b):
		return "metrics.listen"
	}
	return ""
}

func sameBoolPtr(a, b *bool) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func metricsListen(c *Config) string {
	if c.Metrics == nil {
		return ""
	}
	return c.Metrics.Listen
}

// shutdown stops taking work, waits for what runs for up to stop_timeout,
// then cancels it and waits for it to unwind.
func (d *Daemon) shutdown(srv *http.Server, endReloads func()) {
	d.stopMu.Lock()
	d.stopping.Store(true)
	d.stopMu.Unlock()
	d.notify.send("STOPPING=1", "STATUS=stopping")
	d.runner.stop()
	timeout := time.Duration(d.config().StopTimeout)
	if n := d.running.Load(); n > 0 {
		d.logf("stopping: waiting up to %s for %d %s", timeout, n, pluralWord(n, "running ingest or job", "running ingests and jobs"))
	}
	done := make(chan struct{})
	go func() { d.active.Wait(); d.runner.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		d.logf("stopping: work still running after %s; aborting it (no snapshot is written for it)", timeout)
		d.cancelWork()
		select {
		case <-done:
		case <-time.After(time.Minute):
			d.logf("stopping: work did not end a minute after being aborted; exiting anyway")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	endReloads() // a reload in progress ends first
	d.logf("stopped")
}

// begin registers a piece of work (a run, a socket ingest); it fails once
// the daemon is stopping.
func (d *Daemon) begin() error {
	d.stopMu.Lock()
	defer d.stopMu.Unlock()
	if d.stopping.Load() {
		return errStopping
	}
	d.active.Add(1)
	d.running.Add(1)
	return nil
}

// end unregisters a piece of work begin registered.
func (d *Daemon) end() {
	d.running.Add(-1)
	d.active.Done()
}

var errStopping = errors.New("the daemon is stopping")

// workContext returns a context that ends with ctx or when the daemon
// aborts its work.
func (d *Daemon) workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.work, cancel)
	return ctx, func() { stop(); cancel() }
}

// committed is called after the daemon wrote a snapshot: the live mount
// shows it at once.
func (d *Daemon) committed() {
	if d.mount != nil {
		d.mount.refresh()
	}
}

// monotonicUsec reads CLOCK_MONOTONIC, as systemd wants for
// MONOTONIC_USEC.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Sec*1e6 + ts.Nsec/1e3
}

// isLoopback reports whether addr (host:port) is on a loopback address.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plural is "1 snapshot", "2 snapshots" for the log and messages.
func plural[N ~int | ~int32 | ~int64](n N, what string) string {
	return fmt.Sprintf("%d %s", n, pluralWord(n, what, what+"s"))
}

// pluralWord is one or many as n says.
func pluralWord[N ~int | ~int32 | ~int64](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// problems splits the problems Load joined, one per line.
func problems(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
