package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/tree"
)

type ingestFlags struct {
	host, source     string
	tags             []string
	excludes         []string
	excludeFiles     []string
	iexcludes        []string
	iexcludeFiles    []string
	excludeCaches    bool
	excludeIfPresent []string
	excludeLarger    string
	filesFrom        []string
	filesFromVerb    []string
	filesFromRaw     []string
	force            bool
	parent           string
	ignoreInode      bool
	setPath          string
	ignoreCtime      bool
	skipIfUnchanged  bool
	dryRun           bool
	oneFileSystem    bool
	stdin            bool
	stdinName        string
	stdinFromCommand bool
	timeFlag         string
	metricsFile      string
}

func newIngestCommand(g *globals) *cobra.Command {
	f := &ingestFlags{}
	cmd := &cobra.Command{
		Use:     "ingest [flags] PATH... | --stdin | --stdin-from-command -- COMMAND [ARG...]",
		Aliases: []string{"backup"}, // restic's name for it
		Short:   "Back up paths or a stream into a new snapshot",
		Long: `Ingest paths (or standard input, or a command's output) into a new snapshot.
An empty --stdin stream is saved as an empty file with a warning: in
"pg_dump app | cairn ingest --stdin" the shell hides pg_dump's failure, which
--stdin-from-command -- pg_dump app catches (no snapshot then). The stream is
saved as a file of the user who ran the ingest with mode 0600 (restic: 0644):
a database dump stays unreadable to other users of a mount made with
--allow-other.

Unchanged files (same size, mtime, ctime and inode as in the last ingest of
the same host and source) are not read again. Paths given on the command line
are never excluded. A path given that does not exist (a typo, a folder on a
disk not mounted), on the command line or in --files-from-verbatim or
--files-from-raw, is left out of the snapshot with an error naming it, as
restic skips it, and the ingest exits 3: the paths that are there are
saved. When none of the paths given exists, nothing is saved and the
ingest exits 1. A line of --files-from, a glob, that matches nothing is
skipped with a warning. Exit code 3 means the snapshot was saved but some
files could not be read; each one is reported. A file time beyond what a snapshot
holds (before 1677-09-21 or after 2262-04-11) is saved as the nearest one it
holds, with a warning naming the path and the time; the exit code stays 0.

The parent snapshot is the newest of the same host, source and paths
(else of the same host and source; for a stream, only one of the same
--stdin-name) not dated after the new one (as restic: with --time, or
after a clock skew), so that separate ingests of /etc and /home under one
source each compare with their own last run; the
summary names it (Parent:, and parent_snapshot_id in --json). --parent
chooses another (an ID prefix of any host and source, or latest): files are
then compared with what that snapshot recorded, not with the last ingest,
so that after restoring an older snapshot, or under a new host name, only
what differs from it is read. A new or emptied cache folder needs no
--parent: where nothing records the last ingest of the host and source,
files are compared with the parent snapshot in the same way. A parent that
cannot be found exits 1 before anything is read. --ignore-inode takes a file whose
size and mtime match as unchanged whatever its inode number and ctime (as
restic's: for FUSE and network filesystems, or a tree copied anew with
rsync or cp -a); --ignore-ctime ignores the ctime alone. Either trusts
size and mtime more: after restoring an older snapshot, give it as
--parent. --skip-if-unchanged writes no snapshot when the new one would
hold the parent's tree and paths (any metadata but access times counts,
but not that of the folders on the way to the paths, which move whenever
anything beside them does; nor, for a stream, its times, which are those
of the ingest), says so, and exits 0 (3 if some files could
not be read); the --json summary then has no snapshot_id but
"skipped": true and the parent_snapshot_id that holds the same.

--set-path PATH records the one path given as PATH, for a filesystem
snapshot mounted where the date or a number changes its path every night
(an LVM or btrfs snapshot at /snap/2026-11-28/home, ZFS's
/home/.zfs/snapshot/NAME): "cairn ingest --set-path /home
/snap/2026-11-28/home" reads the files there and saves them as /home.
The snapshot's paths, the parent chosen, the comparison with the last
ingest, --exclude patterns, ls, mount and restore all see /home, so the
next night's ingest of another mount point reads only what changed, and a
restore puts the files back at /home. The folders above PATH are taken from
this machine and must exist; warnings name the files where they were read.
A symlink given (/snap/latest) is followed: its files are recorded.
Files on a snapshot mounted anew keep their inode numbers and ctimes; where
they do not (a copy, some FUSE filesystems), add --ignore-inode. (restic has
no such option; its users cd into the snapshot and give --parent.)

When a daemon (cairn daemon) serves the repository, the ingest runs in it:
the output, --json lines and exit codes are the same; --stdin streams
standard input to it, and --stdin-from-command runs the command here and
streams its output. The daemon reads paths with its own rights, so a
caller that is neither root nor the daemon's user ingests paths directly,
with its own rights, as without a daemon. Such a caller also needs the
repository password (CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND or
CAIRN_PASSWORD, sent to the daemon) to go through it. Without --host, an
ingest through the daemon records the host of the daemon's config (the
machine's name when the config sets none), so that the machine's snapshots
are under one host; --host still wins. See --no-daemon, --socket and -v.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd, g, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "`host` name to record (default: this machine's, or through a daemon its config's host)")
	fl.StringVar(&f.source, "source", "", "`source` name, e.g. system or db (default: \"default\")")
	fl.StringArrayVar(&f.tags, "tag", nil, "add a `tag` (repeatable, or comma-separated)")
	fl.StringArrayVarP(&f.excludes, "exclude", "e", nil, "exclude paths matching `pattern` (repeatable)")
	fl.StringArrayVar(&f.excludeFiles, "exclude-file", nil, "read exclude patterns from `file` (repeatable)")
	fl.StringArrayVar(&f.iexcludes, "iexclude", nil, "like --exclude, for `pattern` regardless of case (repeatable)")
	fl.StringArrayVar(&f.iexcludeFiles, "iexclude-file", nil, "like --exclude-file, for the patterns in `file` regardless of case (repeatable)")
	fl.BoolVar(&f.excludeCaches, "exclude-caches", false, "skip the contents of folders holding a CACHEDIR.TAG")
	fl.StringArrayVar(&f.excludeIfPresent, "exclude-if-present", nil, "skip the contents of folders holding a file `name[:header]` (starting with header), but that file (repeatable)")
	fl.StringVar(&f.excludeLarger, "exclude-larger-than", "", "skip files larger than `size` (e.g. 2G, 500MiB)")
	fl.StringArrayVar(&f.filesFrom, "files-from", nil, "also ingest the paths listed in `file`, one a line (# comments, blank lines skipped, globs expanded; - is standard input)")
	fl.StringArrayVar(&f.filesFromVerb, "files-from-verbatim", nil, "also ingest the paths listed in `file`, one a line (LF or CRLF), taken as they are")
	fl.StringArrayVar(&f.filesFromRaw, "files-from-raw", nil, "also ingest the paths listed in `file`, separated by NUL bytes (find -print0)")
	fl.BoolVarP(&f.force, "force", "f", false, "read every file again, even those the file-change cache says are unchanged")
	fl.StringVar(&f.parent, "parent", "", "compare files with this `snapshot` (ID prefix, or latest) instead of the last ingest of the same host and source")
	fl.BoolVar(&f.ignoreInode, "ignore-inode", false, "take a file as unchanged whatever its inode number and ctime, when size and mtime match")
	fl.StringVar(&f.setPath, "set-path", "", "record the one PATH given as this absolute `path` (a filesystem snapshot mounted at a changing path)")
	fl.BoolVar(&f.ignoreCtime, "ignore-ctime", false, "take a file as unchanged whatever its ctime, when size, mtime and inode match")
	fl.BoolVar(&f.skipIfUnchanged, "skip-if-unchanged", false, "write no snapshot when nothing changed since the parent snapshot")
	fl.BoolVarP(&f.dryRun, "dry-run", "n", false, "do everything but store: report what would be added, write nothing to the repository")
	fl.BoolVarP(&f.oneFileSystem, "one-file-system", "x", false, "do not cross filesystem boundaries")
	fl.BoolVar(&f.stdin, "stdin", false, "ingest standard input as one file")
	fl.StringVar(&f.stdinName, "stdin-name", "stdin", "file `name` for --stdin and --stdin-from-command")
	fl.BoolVar(&f.stdinFromCommand, "stdin-from-command", false, "ingest the standard output of the command after --; no snapshot if it fails")
	fl.StringVar(&f.timeFlag, "time", "", "snapshot `time` instead of now: RFC 3339, or restic's \"2006-01-02 15:04:05\" in the local time zone")
	fl.StringVar(&f.metricsFile, "metrics-file", "", "write Prometheus metrics of this run to `file` (for node_exporter's textfile collector), on success and on failure")
	return cmd
}

func runIngest(cmd *cobra.Command, g *globals, f *ingestFlags, args []string) (err error) {
	ctx := cmd.Context()
	opt := ingest.Options{Host: f.host, Source: f.source, Tags: tagsOf(f.tags), ExcludeCaches: f.excludeCaches, ExcludeIfPresent: f.excludeIfPresent,
		OneFileSystem: f.oneFileSystem, Force: f.force, DryRun: f.dryRun, Version: version,
		Parent: f.parent, IgnoreInode: f.ignoreInode, IgnoreCtime: f.ignoreCtime, SkipIfUnchanged: f.skipIfUnchanged, SetPath: f.setPath}
	if opt.Excludes, err = readPatterns("--exclude-file", f.excludes, f.excludeFiles); err != nil {
		return err
	}
	if opt.IExcludes, err = readPatterns("--iexclude-file", f.iexcludes, f.iexcludeFiles); err != nil {
		return err
	}
	if _, err := ingest.ParseTagFiles(opt.ExcludeIfPresent); err != nil {
		return err
	}
	if f.excludeLarger != "" {
		n, err := daemon.ParseBytes(f.excludeLarger)
		if err != nil || n <= 0 {
			return fmt.Errorf("--exclude-larger-than %q: give a size, e.g. 2G or 500MiB", f.excludeLarger)
		}
		opt.ExcludeLargerThan = n
	}
	if f.timeFlag != "" {
		t, err := parseTimeFlag(f.timeFlag, time.Local)
		if err != nil {
			return fmt.Errorf("--time: %w", err)
		}
		// The snapshot's folder times and a stream's file times are
		// nanoseconds since 1970: a time they cannot hold would be
		// stored wrapped around (2300 as 1715), and the zero time would
		// be taken as "now".
		if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
			return fmt.Errorf("--time %s: beyond what a snapshot holds (1677-09-21 to 2262-04-11)", f.timeFlag)
		}
		opt.Time = t
	}

	var command []string
	switch {
	case f.stdin && f.stdinFromCommand:
		return errors.New("--stdin and --stdin-from-command exclude each other")
	case f.stdinFromCommand:
		dash := cmd.ArgsLenAtDash()
		if dash < 0 || dash >= len(args) {
			return errors.New("--stdin-from-command needs the command after --")
		}
		if dash > 0 {
			return errors.New("--stdin-from-command takes no paths")
		}
		command = args
		opt.StdinName = f.stdinName
	case f.stdin:
		if len(args) > 0 {
			return errors.New("--stdin takes no paths")
		}
		if stdinClosedAtStart() {
			// The runtime has put /dev/null there: an empty file would
			// be saved for what a script meant to pipe in.
			return errors.New("--stdin: standard input was closed when cairn started (<&-), so there is nothing to read: no snapshot written")
		}
		if isTerminal(os.Stdin) {
			// Nothing was piped in: without a word, the run looks hung.
			g.notice("cairn: reading the data to ingest from the terminal: type it and end with Ctrl-D, or pipe it in (cat FILE | cairn ingest --stdin)")
		}
		// Ctrl-C ends a read waiting for input that has not come.
		opt.Stdin, opt.StdinName = cancelableStdin(ctx, os.Stdin), f.stdinName
	default:
		if slices.Contains(args, "") {
			// As restic: "cairn ingest $DIR" with DIR unset must not
			// ingest the current folder (/ under cron) instead.
			return errors.New("cannot ingest an empty path (an unset variable?); give . for the current folder")
		}
		listed, err := f.listedPaths(ctx)
		if err != nil {
			return err
		}
		opt.Paths = append(args, listed...)
		if len(opt.Paths) == 0 {
			if len(f.filesFrom)+len(f.filesFromVerb)+len(f.filesFromRaw) > 0 {
				return errors.New("nothing to ingest: the --files-from lists name no path")
			}
			return errors.New("nothing to ingest: give paths, --stdin or --stdin-from-command")
		}
	}
	if (f.stdin || f.stdinFromCommand) && len(f.filesFrom)+len(f.filesFromVerb)+len(f.filesFromRaw) > 0 {
		return errors.New("--files-from lists paths; --stdin and --stdin-from-command ingest a stream instead")
	}
	if (f.stdin || f.stdinFromCommand) && f.setPath != "" {
		return errors.New("--set-path records a path given as another; a stream is named by --stdin-name")
	}
	if (f.stdin || f.stdinFromCommand) && f.stdinName != "" && !tree.ValidName(f.stdinName) {
		// Refused before the command starts (a database dump of an
		// hour, killed at its first bytes).
		return fmt.Errorf("--stdin-name %q is not a valid file name", f.stdinName)
	}

	out := newIngestOutput(g)
	out.dryRun, out.stdin, out.stream = f.dryRun, f.stdin, f.stdin || f.stdinFromCommand
	if f.dryRun {
		// Nothing is stored: the repository is read here, without the
		// daemon, and no metrics are written.
		return ingestDirect(cmd, g, opt, command, out)
	}
	if f.metricsFile != "" {
		start := time.Now()
		defer func() {
			if merr := writeIngestMetrics(f.metricsFile, opt, start, out, err); merr != nil && err == nil {
				err = merr
			}
		}()
	}
	c, err := g.daemonClient(ctx, len(opt.Paths) > 0)
	if err != nil {
		return err
	}
	if c != nil {
		if opt.Host == "" {
			// The daemon records its config's host: so do the
			// metrics.
			opt.Host = g.daemon.host
		}
		return ingestViaDaemon(ctx, c, opt, command, out)
	}
	return g.explainFallback(ingestDirect(cmd, g, opt, command, out))
}

// ingestDirect ingests on the repository itself.
func ingestDirect(cmd *cobra.Command, g *globals, opt ingest.Options, command []string, out *ingestOutput) error {
	ctx := cmd.Context()
	var child *stdinCommand
	if command != nil {
		child = commandForStdin(ctx, command)
		pipe, err := child.StdoutPipe()
		if err != nil {
			return err
		}
		opt.Stdin = cancelableStdin(ctx, pipe)
	}

	r, lock, release, err := g.openLocked(ctx, "ingest")
	if err != nil {
		return err
	}
	defer release()

	if child != nil {
		if err := child.Start(); err != nil {
			return fmt.Errorf("start %s: %w", command[0], err)
		}
		opt.BeforeCommit = func() error { return waitStdinCommand(child, command) }
	}
	opt.Warn = func(path string, err error) { out.warn(path, err.Error()) }
	opt.Notice = out.notice
	if v := g.daemon.verbose; v > 0 && !g.quiet {
		// As restic's backup -vv: each file with what was done with it
		// (-v: what was read, -vv: the unchanged files too).
		opt.Item = func(path, action string) {
			if action == "unchanged" && v < 2 {
				return
			}
			out.item(path, action)
		}
	}
	if out.wantProgress() && (opt.Item == nil || g.json) {
		// No live line amid the listed files (as restore -v).
		opt.Progress = out.progress
	}

	res, err := ingest.Run(lock.Context(), r, opt)
	out.done()
	if child != nil && err != nil && child.ProcessState == nil {
		if child.Process != nil {
			// The whole group, as on an interrupt: a pipeline's
			// members left behind would run on (a dump of hours).
			child.Cancel()
		}
		child.Wait()
	}
	if err != nil {
		if errors.Is(err, ingest.ErrInterrupted) && cmd.Context().Err() != nil {
			return cmd.Context().Err()
		}
		return err
	}
	if res.Skipped {
		return out.skippedSummary(*res.Snapshot.Parent, res.Snapshot.Summary)
	}
	var parent id.ID
	if res.Snapshot.Parent != nil {
		parent = *res.Snapshot.Parent
	}
	return out.summary(res.Snapshot.ID, parent, res.Snapshot.Summary)
}

// ingestViaDaemon has the daemon ingest, with the same output. A
// --stdin-from-command command runs here, in the caller's environment, and
// its output is streamed like --stdin; when it fails the daemon writes no
// snapshot, as a direct ingest would not.
func ingestViaDaemon(ctx context.Context, c *daemon.Client, opt ingest.Options, command []string, out *ingestOutput) error {
	req := daemon.IngestRequest{Excludes: opt.Excludes, IExcludes: opt.IExcludes, ExcludeCaches: opt.ExcludeCaches,
		ExcludeIfPresent: opt.ExcludeIfPresent, ExcludeLargerThan: opt.ExcludeLargerThan, Force: opt.Force, OneFileSystem: opt.OneFileSystem,
		Parent: opt.Parent, IgnoreInode: opt.IgnoreInode, IgnoreCtime: opt.IgnoreCtime, SkipIfUnchanged: opt.SkipIfUnchanged, SetPath: opt.SetPath,
		Host: opt.Host, Source: opt.Source, Tags: opt.Tags, Time: opt.Time, StdinName: opt.StdinName, Progress: out.wantProgress()}
	for _, p := range opt.Paths {
		abs, err := ingest.AbsPath(p)
		if err != nil {
			return err
		}
		req.Paths = append(req.Paths, abs)
	}
	stdin := opt.Stdin
	var verdict func() error
	if command != nil {
		// Refused (a wrong password) before the command runs, as a
		// direct ingest opens the repository first.
		if err := c.Auth(ctx); err != nil {
			return daemonError(err)
		}
		child := commandForStdin(ctx, command)
		pipe, err := child.StdoutPipe()
		if err != nil {
			return err
		}
		if err := child.Start(); err != nil {
			return fmt.Errorf("start %s: %w", command[0], err)
		}
		defer func() {
			if child.ProcessState == nil {
				child.Cancel() // the whole group, as on an interrupt
				child.Wait()
			}
		}()
		stdin, verdict = cancelableStdin(ctx, pipe), func() error { return waitStdinCommand(child, command) }
	}
	req.Stdin = stdin != nil
	ev, err := c.Ingest(ctx, req, stdin, verdict, func(ev daemon.IngestEvent) {
		switch {
		case ev.Type == daemon.EventProgress && ev.Progress != nil:
			out.progress(*ev.Progress)
		case ev.Type == daemon.EventWarn:
			out.warn(ev.Path, ev.Message)
		case ev.Type == daemon.EventNotice:
			out.notice(ev.Path, ev.Message)
		}
	})
	out.done()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var gone interface{ Detail() string }
		if errors.As(err, &gone) {
			out.g.verbosef("%s", gone.Detail())
		}
		return daemonError(err)
	}
	bad := fmt.Errorf("daemon at %s: bad summary", c.Path())
	var parent id.ID
	if ev.Parent != "" {
		if parent, err = id.Parse(ev.Parent); err != nil {
			return bad
		}
	}
	if ev.Summary == nil || ev.Skipped && parent.IsZero() {
		return bad
	}
	if ev.Skipped {
		return out.skippedSummary(parent, ev.Summary)
	}
	sid, err := id.Parse(ev.SnapshotID)
	if err != nil {
		return bad
	}
	return out.summary(sid, parent, ev.Summary)
}

// commandForStdin makes the --stdin-from-command command. It runs in its
// own process group so an interrupt ends it and whatever it started (which
// may hold the pipe open).
//
// Not when cairn runs in the foreground of a terminal: a process group of
// its own is a background one there, and a command that asks something on
// the terminal (sudo's or ssh's password prompt, pg_dump -W) would be
// stopped by SIGTTIN as it reads, leaving cairn waiting for its output
// forever. It stays in cairn's group then, which Ctrl-C reaches as a
// whole, and the caller reads its output through cancelableStdin, so that
// an interrupt does not wait for what it started to close the pipe.
func commandForStdin(ctx context.Context, command []string) *stdinCommand {
	child := &stdinCommand{Cmd: exec.CommandContext(ctx, command[0], command[1:]...)}
	child.Stderr = os.Stderr
	if stderrMayBreak() {
		// Not cairn's stderr itself: a reader of it that goes away (a
		// logger that died, `2>&1 | head`, a journald stopped or
		// crashed) would kill the command with SIGPIPE at its next
		// message, and the backup with it, where cairn itself goes on
		// (watchBrokenPipe). cairn relays what it writes instead,
		// dropping it once stderr is broken. Wait waits for the relay,
		// so the command's last words come before cairn's; a process
		// it left behind holding the pipe delays Wait by relayGrace at
		// most. When stderr is the journal's stream, the command is
		// told that the relay's pipe is (see journalRelay).
		if !child.journalRelay() {
			child.Stderr = &stderrRelay{}
			child.WaitDelay = relayGrace
		}
	}
	if foregroundOnTerminal() {
		child.Cancel = func() error { return child.Process.Kill() }
		return child
	}
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	child.Cancel = func() error { return syscall.Kill(-child.Process.Pid, syscall.SIGKILL) }
	return child
}

// foregroundOnTerminal reports whether cairn has a controlling terminal
// and its process group is that terminal's foreground one.
func foregroundOnTerminal() bool {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	defer tty.Close()
	pgrp, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// waitStdinCommand waits for the command once its output has been read;
// its failure means no snapshot.
func waitStdinCommand(child *stdinCommand, command []string) error {
	// ErrWaitDelay: the command succeeded, and something it started kept
	// its stderr open (see commandForStdin).
	if err := child.Wait(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return &exitError{exitFailure, fmt.Errorf("command %s failed (%v): no snapshot written", daemon.ShellWords(command), err)}
	}
	return nil
}

func printJSONTo(w io.Writer, v any) {
	if w == io.Writer(stdout) {
		printJSON(v)
		return
	}
	b := mustJSON(v)
	w.Write(append(b, '\n'))
}

// parseTimeFlag reads ingest --time: RFC 3339 (2024-03-31T02:30:00+02:00),
// or restic's "2006-01-02 15:04:05" as a wall time in loc. A wall time
// the clocks skip or repeat at a daylight saving change names no single
// instant: it is refused, with the offsets to choose from.
func parseTimeFlag(s string, loc *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	const layout = "2006-01-02 15:04:05"
	if _, err := time.ParseInLocation(layout, s, loc); err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2006-01-02T15:04:05+01:00) nor %q", s, layout)
	}
	wall, _ := time.Parse(layout, s) // the same fields, in UTC
	var at []time.Time
	seen := map[int]bool{}
	for _, probe := range []time.Time{wall.Add(-26 * time.Hour), wall, wall.Add(26 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		if c := wall.Add(-time.Duration(off) * time.Second); c.In(loc).Format(layout) == s {
			at = append(at, c.In(loc))
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	switch len(at) {
	case 0:
		return time.Time{}, fmt.Errorf("%s does not exist in time zone %s (the clocks skip it); give it in RFC 3339 with an offset", s, loc)
	case 1:
		return at[0], nil
	}
	return time.Time{}, fmt.Errorf("%s comes twice in time zone %s (the clocks repeat it): give it in RFC 3339 with its offset, %s or %s",
		s, loc, at[0].Format(time.RFC3339), at[1].Format(time.RFC3339))
}
