package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo"
)

// daemonFlags say how commands find a running daemon.
type daemonFlags struct {
	socket  string
	off     bool
	verbose bool
}

func (d *daemonFlags) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&d.socket, "socket", "", "the daemon's control socket `path` (env CAIRN_SOCKET; default "+daemon.DefaultSocket+")")
	f.BoolVar(&d.off, "no-daemon", false, "work on the repository directly even when a daemon serves it")
	f.BoolVarP(&d.verbose, "verbose", "v", false, "say whether the daemon is used, and why not")
}

func newDaemonCommand(g *globals) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "daemon --config FILE",
		Short: "Run the configured backups on schedule, keep the live mount, serve the control socket",
		Long: `Run as the one long-lived cairn process of this machine: hold the repository
open, run the sources of the config file on their schedules (with before and
after hooks and retention), keep every snapshot mounted, serve the control
socket that cairn ingest, snapshots, status and run use, and export metrics.

The socket is --socket, else the config's socket, else ` + daemon.DefaultSocket + `.
Only root, the daemon's own user, the config's allow_uids and members of its
socket_group may call it (checked with SO_PEERCRED); it is mode 0600, 0660
with socket_group, 0666 with allow_uids. The daemon reads paths with its own
rights, so it only ingests paths for root and its own user: for other
callers cairn ingest reads them directly, with the caller's rights.

A socket file left by a daemon that died is replaced; a second daemon on a
live daemon's socket refuses to start. While the daemon holds the local
index, direct commands (ls, restore, mount...) use a private index at once.

Signals: SIGHUP reads the config again (a config with a mistake is refused,
naming FILE:LINE, and the running one stays; changing the repository, storage,
socket, mount or metrics address needs a restart). SIGTERM and SIGINT stop
taking work, let running ingests finish for up to stop_timeout (an ingest
through the socket counts from its first byte, however slowly its --stdin
stream comes), then abort them (no snapshot is written for an aborted
ingest), unmount and exit 0.

A dead FUSE mount left at the mount path by a daemon that crashed is
detached (lazily) before mounting again.

Under systemd (Type=notify) it reports READY=1 once the socket and the mount
are up, and pings the watchdog when WatchdogSec is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return errors.New("--config is required")
			}
			cfg, err := daemon.Load(configPath)
			if err != nil {
				return err
			}
			// The mount's chunk cache and the ingests' buffers live
			// side by side.
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(256 << 20)
			}
			flags := log.LstdFlags
			if os.Getenv("JOURNAL_STREAM") != "" {
				flags = 0 // journald stamps each line
			}
			logger := log.New(os.Stderr, "", flags)
			return daemon.Run(cmd.Context(), cfg, daemon.Deps{
				ConfigPath: configPath,
				Socket:     g.daemon.socket,
				Open: func(ctx context.Context, cfg *daemon.Config) (*repo.Repository, error) {
					return g.forDaemon(cfg).open(ctx, func(o *repo.Options) { o.Resident = true })
				},
				ExitCode: exitCode,
				Version:  version,
				Logf:     logger.Printf,
			})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "the daemon's config `file` (YAML)")
	return cmd
}

// forDaemon returns the globals with the repository, password and storage
// settings of a daemon config; what the config leaves out keeps the flags'
// (and environment's) values.
func (g *globals) forDaemon(cfg *daemon.Config) *globals {
	d := *g
	d.repo = cfg.Repository
	if cfg.PasswordFile != "" || cfg.PasswordCommand != "" {
		d.passwordFile, d.passwordCommand = cfg.PasswordFile, cfg.PasswordCommand
	}
	if cfg.CacheDir != "" {
		d.cacheDir = cfg.CacheDir
	}
	s := &d.storage
	if cfg.Connections > 0 {
		s.connections = cfg.Connections
	}
	if cfg.Retries > 0 {
		s.retries = cfg.Retries
	}
	s.virtualHost = s.virtualHost || cfg.S3VirtualHost
	if cfg.VerifyWrites != nil {
		s.verifyWrites = *cfg.VerifyWrites
	}
	if cfg.MetadataCache != nil {
		s.metaCache = *cfg.MetadataCache
	}
	if cfg.LimitRequests > 0 {
		s.limitRPS = cfg.LimitRequests
	}
	if cfg.LimitBytes != "" {
		s.limitBytes = cfg.LimitBytes
	}
	return &d
}

// verbosef says, with -v only, how a command reaches the repository.
func (g *globals) verbosef(format string, args ...any) {
	if g.daemon.verbose {
		fmt.Fprintf(os.Stderr, "cairn: "+format+"\n", args...)
	}
}

// daemonClient returns a client for a daemon serving the repository this
// command names (any daemon when it names none), or nil to work on the
// repository directly: with --no-daemon, without a socket, or when the
// daemon is down, refuses this user or serves another repository. With
// readsPaths (an ingest of paths) it is also nil when the daemon runs as
// another user and this one is not root: paths are always read with the
// caller's rights.
func (g *globals) daemonClient(ctx context.Context, readsPaths bool) *daemon.Client {
	if g.daemon.off {
		return nil
	}
	path := daemon.SocketPath(g.daemon.socket)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	c := daemon.NewClient(path)
	info, err := c.Info(ctx, 5*time.Second)
	if err != nil {
		g.verbosef("daemon at %s not usable (%v); working on the repository directly", path, err)
		return nil
	}
	if g.repo != "" && !daemon.SameRepository(g.repo, info.Repository) {
		g.verbosef("daemon at %s serves %s, not %s; working on the repository directly", path, info.Repository, g.repo)
		return nil
	}
	if uid := os.Getuid(); readsPaths && uid != 0 && uid != info.UID {
		g.verbosef("daemon at %s runs as uid %d, and would read the paths with its rights, not those of uid %d; working on the repository directly", path, info.UID, uid)
		return nil
	}
	g.verbosef("using the daemon at %s (pid %d)", path, info.PID)
	return c
}

// requireDaemon is daemonClient for the commands that only work through
// a daemon (status, run): its absence is an error.
func (g *globals) requireDaemon(ctx context.Context) (*daemon.Client, *daemon.Info, error) {
	path := daemon.SocketPath(g.daemon.socket)
	c := daemon.NewClient(path)
	info, err := c.Info(ctx, 5*time.Second)
	if err != nil {
		if _, serr := os.Stat(path); serr != nil {
			return nil, nil, fmt.Errorf("no daemon is running: no control socket at %s (start cairn daemon, or give --socket or CAIRN_SOCKET)", path)
		}
		return nil, nil, fmt.Errorf("no daemon answering at %s: %w", path, err)
	}
	if g.repo != "" && !daemon.SameRepository(g.repo, info.Repository) {
		return nil, nil, fmt.Errorf("the daemon at %s serves %s, not %s", path, info.Repository, g.repo)
	}
	return c, info, nil
}

// daemonError turns a daemon's error answer into the exit code it names.
func daemonError(err error) error {
	var ae *daemon.APIError
	if errors.As(err, &ae) {
		return &exitError{ae.Code, errors.New(ae.Message)}
	}
	return err
}
