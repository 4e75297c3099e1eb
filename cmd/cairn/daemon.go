package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo"
)

// daemonFlags say how commands find a running daemon.
type daemonFlags struct {
	socket  string
	off     bool
	verbose int // -v given this many times (restic's -vv is 2)
	// declined says why a daemon serving the repository did not take
	// this command, and what to do about it, when it then ran directly.
	declined string
	// host is the host the daemon in use records (its config's), for
	// what an ingest through it writes to --metrics-file.
	host string
}

func (d *daemonFlags) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&d.socket, "socket", "", "the daemon's control socket `path` (env CAIRN_SOCKET; default "+daemon.DefaultSocket+")")
	f.BoolVar(&d.off, "no-daemon", false, "work on the repository directly even when a daemon serves it")
	f.CountVarP(&d.verbose, "verbose", "v", "say whether the daemon is used, and why not; restore: list each path (-vv as restic); ingest on the repository itself: list each file read as new or modified (-vv: unchanged too, as restic)")
}

func newDaemonCommand(g *globals) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "daemon --config FILE",
		Short: "Run the configured backups on schedule, keep the live mount, serve the control socket",
		Long: `Run as the one long-lived cairn process of this machine: hold the repository
open, run the sources of the config file on their schedules (with before and
after hooks and retention), copy their new snapshots into the repositories
their copy_to names, keep every snapshot mounted, serve the control socket
that cairn ingest, snapshots, status and run use, and export metrics.

The socket is --socket, else the config's socket, else ` + daemon.DefaultSocket + `.
Only root, the daemon's own user, the config's allow_uids and members of its
socket_group may call it (checked with SO_PEERCRED); it is mode 0600, 0660
with socket_group, 0666 with allow_uids. The socket's owner needs no
password: root and the daemon's own user may call it without one. Every
other caller must give the repository password for every call but status
(snapshots, ingest, run): cairn sends the one from CAIRN_PASSWORD_FILE,
CAIRN_PASSWORD_COMMAND or CAIRN_PASSWORD with the request (never a prompt;
without one, snapshots and ingest work directly). A password that is given
is always checked against the repository's key files, whoever gives it: a
wrong one is refused as a direct command refuses it (exit 12). The daemon
never logs passwords; it remembers a keyed hash of those that passed until
it stops or reloads (so after cairn key remove or passwd, send SIGHUP), and
after a few wrong ones from a uid makes it wait, longer each time.

The daemon reads paths with its own rights, so it only ingests paths for
root and its own user: for other callers cairn ingest reads them directly,
with the caller's rights. An ingest through the socket without --host
records the config's host, as the daemon's own sources do.

A socket file left by a daemon that died is replaced; a second daemon on a
live daemon's socket refuses to start, and so does a daemon whose socket's
folder (or one above it) belongs to another user, or whose socket's folder
others may write to (they could swap the socket for their own). While the daemon holds the local
index, direct commands (ls, restore, mount...) use a private index at once.

Signals: SIGHUP reads the config again (a config with a mistake is refused,
naming FILE:LINE, and the running one stays; changing the repository, storage,
socket, mount or metrics address needs a restart; copies change in place, as
each copy opens its repository anew). SIGTERM and SIGINT stop
taking work, let running ingests finish for up to stop_timeout (an ingest
through the socket counts from its first byte, however slowly its --stdin
stream comes), then abort them (no snapshot is written for an aborted
ingest), unmount and exit 0.

A dead FUSE mount left at the mount path by a daemon that crashed is
detached (lazily) before mounting again.

Under systemd (Type=notify) it reports READY=1 once the socket and the mount
are up, and pings the watchdog when WatchdogSec is set.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return errors.New("--config is required")
			}
			cfg, err := daemon.Load(configPath)
			if err != nil {
				return err
			}
			// The mount's chunk cache and the ingests' buffers live
			// side by side; the memory tuner's limit follows them (see
			// the mount command).
			flags := log.LstdFlags
			if os.Getenv("JOURNAL_STREAM") != "" {
				flags = 0 // journald stamps each line
			}
			logger := log.New(os.Stderr, "", flags)
			return daemon.Run(cmd.Context(), cfg, daemon.Deps{
				StateDir:   daemonStateDir(g.forDaemon(cfg).cacheDir, logger.Printf),
				ConfigPath: configPath,
				Socket:     g.daemon.socket,
				Open: func(ctx context.Context, cfg *daemon.Config) (*repo.Repository, error) {
					return g.forDaemon(cfg).open(ctx, func(o *repo.Options) { o.Resident = true })
				},
				OpenCopy: func(ctx context.Context, cfg *daemon.Config, c *daemon.Copy) (*repo.Repository, error) {
					return g.forCopy(cfg, c).open(ctx)
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
		d.configOf = "the daemon config"
	}
	if cfg.CacheDir != "" {
		d.cacheDir = cfg.CacheDir
	}
	d.storage.apply(cfg.Storage())
	return &d
}

// forCopy returns the globals for one of a daemon config's copies: its
// repository, password and storage options, on the flags' (and
// environment's) storage settings, not the main repository's; the local
// index lives beside the main repository's.
func (g *globals) forCopy(cfg *daemon.Config, c *daemon.Copy) *globals {
	d := *g
	d.repo, d.passwordFile, d.passwordCommand = c.Repository, c.PasswordFile, c.PasswordCommand
	d.label = "copy " + c.Name
	d.configOf = "copy " + c.Name + " in the daemon config"
	if cfg.CacheDir != "" {
		d.cacheDir = cfg.CacheDir
	}
	d.storage.apply(c.Storage())
	return &d
}

// apply sets what a daemon config's storage options set.
func (s *storageFlags) apply(o daemon.Storage) {
	if o.Connections > 0 {
		s.connections = o.Connections
	}
	if o.Retries > 0 {
		s.retries = o.Retries
	}
	s.virtualHost = s.virtualHost || o.S3VirtualHost
	if o.VerifyWrites != nil {
		s.verifyWrites = *o.VerifyWrites
	}
	if o.MetadataCache != nil {
		s.metaCache = *o.MetadataCache
	}
	if o.LimitRequests > 0 {
		s.limitRPS = o.LimitRequests
	}
	if o.LimitBytes != "" {
		s.limitBytes = o.LimitBytes
	}
}

// verbosef says, with -v only, how a command reaches the repository.
func (g *globals) verbosef(format string, args ...any) {
	if g.daemon.verbose > 0 {
		fmt.Fprintf(os.Stderr, "cairn: "+format+"\n", args...)
	}
}

// daemonClient returns a client for a daemon serving the repository this
// command names (any daemon when it names none), or nil to work on the
// repository directly: with --no-daemon, without a socket, or when the
// daemon is down, refuses this user or serves another repository. With
// readsPaths (an ingest of paths) it is also nil when the daemon runs as
// another user and this one is not root: paths are always read with the
// caller's rights. It is nil too for a caller other than the daemon's
// owner without a password to give it (see daemonPassword): working
// directly, it may ask for one on the terminal. The client gives the
// password when there is one; an error is one reading it.
func (g *globals) daemonClient(ctx context.Context, readsPaths bool) (*daemon.Client, error) {
	if g.daemon.off {
		return nil, nil
	}
	path := daemon.SocketPath(g.daemon.socket)
	if _, err := os.Stat(path); err != nil {
		g.verbosef("no daemon at %s; working on the repository directly", path)
		return nil, nil
	}
	c := daemon.NewClient(path)
	info, err := c.Info(ctx, 5*time.Second)
	if err != nil {
		g.verbosef("daemon at %s not usable (%v); working on the repository directly", path, err)
		return nil, nil
	}
	if g.repo != "" && !daemon.SameRepository(g.repo, info.Repository) {
		g.verbosef("daemon at %s serves %s, not %s; working on the repository directly", path, info.Repository, g.repo)
		return nil, nil
	}
	uid := os.Getuid()
	owner := uid == 0 || uid == info.UID
	if readsPaths && !owner {
		g.declinedBy(path, fmt.Sprintf("does not ingest paths for uid %d, since it would read them with its own rights (uid %d's)", uid, info.UID),
			"stream it with --stdin, or ask the administrator to add a source")
		return nil, nil
	}
	pw, err := g.daemonPassword(ctx)
	if err != nil {
		return nil, err
	}
	if pw == nil && !owner {
		g.declinedBy(path, fmt.Sprintf("needs the repository password from uid %d (none is set)", uid),
			"set CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND or CAIRN_PASSWORD")
		return nil, nil
	}
	if pw, err = g.legacyDaemonPassword(ctx, c, pw); err != nil {
		return nil, err
	}
	c.SetPassword(pw)
	g.daemon.host = info.Host
	g.verbosef("using the daemon at %s (pid %d)", path, info.PID)
	return c, nil
}

// daemonPassword reads the password to give a daemon, from the password
// file, command or CAIRN_PASSWORD; nil when none is set. It never asks on
// the terminal: the socket's owner needs none, and another caller without
// one works directly.
func (g *globals) daemonPassword(ctx context.Context) ([]byte, error) {
	if g.passwordFile == "" && g.passwordCommand == "" && os.Getenv("CAIRN_PASSWORD") == "" {
		return nil, nil
	}
	pw, _, err := g.readPassword(ctx, false)
	if err != nil {
		return nil, err
	}
	if pw == nil {
		pw = []byte{} // given, and empty: as wrong as any other
	}
	return pw, nil
}

// legacyDaemonPassword returns the password to give the daemon: pw, or,
// when the daemon refuses pw as wrong, the password as cairn read it
// before a leading byte order mark was dropped (ccbaf1d) or before
// backslashes inside double quotes were kept in a password command
// (7019113), if the daemon takes that one. A repository made before
// opens with it directly (open tries the same), and must through the
// daemon too. Only a password file with a mark or a command that those
// changes split otherwise costs the extra check.
//
// Every wrong password counts against the caller's uid in the daemon
// (a pause after a few): when pw and the older reading are both
// refused, the refusal of pw is the error (exit 12, as directly), and pw
// is not given a third time by the command itself. An older reading is
// taken only when the daemon accepts it, not when it answers otherwise
// (a pause, an error): the command then gives pw, and hears why.
func (g *globals) legacyDaemonPassword(ctx context.Context, c *daemon.Client, pw []byte) ([]byte, error) {
	if pw == nil || g.withBOM == nil && g.oldSplit == nil {
		return pw, nil
	}
	auth := func(p []byte) error {
		c.SetPassword(p)
		return c.Auth(ctx)
	}
	wrong := func(err error) bool {
		var ae *daemon.APIError
		return errors.As(err, &ae) && ae.Code == exitWrongPass
	}
	refused := auth(pw)
	if !wrong(refused) {
		return pw, nil
	}
	var taken []byte
	split, _ := g.tryOlderPasswords(ctx, pw, func(old []byte) bool {
		if auth(old) == nil {
			taken = old
		}
		return taken != nil
	})
	if taken == nil {
		return nil, daemonError(refused)
	}
	if split {
		g.notice(oldSplitNotice)
	}
	return taken, nil
}

// declinedBy records that the daemon at path serving the repository did
// not take this command, why and what to do: said with -v, and with the
// error should the command then fail working directly.
func (g *globals) declinedBy(path, why, hint string) {
	g.verbosef("daemon at %s %s; working on the repository directly", path, why)
	g.daemon.declined = fmt.Sprintf("the daemon at %s serves this repository but %s, and working on the repository directly failed: %s", path, why, hint)
}

// explainFallback adds to the error of a command that worked directly
// because the daemon declined it why it did.
func (g *globals) explainFallback(err error) error {
	var ee *exitError
	if err == nil || g.daemon.declined == "" || errors.Is(err, context.Canceled) || errors.As(err, &ee) && ee.err == errSilent {
		return err
	}
	return &fallbackError{err: err, why: g.daemon.declined}
}

// fallbackError is an error of a command that worked directly, with why
// the daemon did not take it. The exit code is the error's.
type fallbackError struct {
	err error
	why string
}

func (e *fallbackError) Error() string { return e.err.Error() + "\n" + e.why }
func (e *fallbackError) Unwrap() error { return e.err }

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
	pw, err := g.daemonPassword(ctx)
	if err != nil {
		return nil, nil, err
	}
	if pw, err = g.legacyDaemonPassword(ctx, c, pw); err != nil {
		return nil, nil, err
	}
	c.SetPassword(pw)
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

// daemonStateDir is where the daemon keeps when its check and prune last
// ran: the cache folder, or "" (keep nothing) when the default one is the
// temporary folder's cairn-UID and that is not this user's private folder.
// Another user may have made it (mkdir -m 777 /tmp/cairn-0): the local
// index then goes to a private folder for the run, and the daemon must not
// write its state there either (a link planted as the state file's .tmp
// would have root overwrite any file) nor read times planted there that
// put off its check and prune.
func daemonStateDir(cacheDir string, logf func(string, ...any)) string {
	if cacheDir != "" {
		return cacheDir
	}
	dir, err := repo.UsableDefaultCacheDir()
	if err != nil {
		logf("%v; not keeping when check and prune last ran", err)
		return ""
	}
	return dir
}
