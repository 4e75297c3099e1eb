// Command cairn is the one binary: a file per subcommand.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes, as restic uses them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitPartial     = 3 // snapshot saved, but some sources were unreadable
	exitNoRepo      = 10
	exitLocked      = 11
	exitWrongPass   = 12
	exitInterrupted = 130
)

// exitError carries an exit code other than the one derived from the error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, repo.ErrNoRepository):
		return exitNoRepo
	case errors.Is(err, repo.ErrLocked):
		return exitLocked
	case errors.Is(err, repo.ErrWrongPassword):
		return exitWrongPass
	}
	return exitFailure
}

func main() {
	posixLocalZone()
	// GOGC and a soft memory limit that follow what the command needs
	// (memlimit.go). Set GOGC or GOMEMLIMIT to choose them.
	tuneMemory()
	g := &globals{}
	root := newRootCommand(g)
	// The daemon stops as its stop_timeout says, however many signals
	// come (systemd sends SIGKILL after its own timeout).
	ctx, stop, ended := stopOnSignal(stopSignals(root, os.Args[1:]), g, commandName(root, os.Args[1:]) != "daemon")
	defer stop()
	finish := finishOnBrokenPipe(root, os.Args[1:])
	ctx, pipe := watchBrokenPipe(ctx, finish)
	stopProfile := startProfile()
	cmd, err := root.ExecuteContextC(ctx)
	ended() // no notice that it is stopping once it has stopped
	stopProfile()
	if pipe.Broken(err) && (!finish || exitCode(err) == exitOK) {
		// An ingest that went on to its end with its output cut exits
		// 141 only when it succeeded: 141 then always means the
		// snapshot was saved, and its own failures (1, 3, 130) win.
		os.Exit(exitBrokenPipe) // as a SIGPIPE death, silently
	}
	if werr := stdout.Err(); werr != nil && err == nil {
		err = fmt.Errorf("standard output: %w (what was printed is incomplete)", werr)
	}
	code := exitCode(err)
	if ctx.Err() != nil && code == exitFailure {
		code = exitInterrupted
	}
	if err != nil {
		var ee *exitError
		if !(errors.As(err, &ee) && ee.err == errSilent) {
			if code == exitInterrupted {
				err = errors.New("interrupted")
			}
			if g.json || (flagsUnparsed(cmd, err) && jsonAsked(os.Args[1:])) {
				printJSONError(err, code)
			} else {
				// "journalctl -p warning" finds a failed backup, and
				// exit 3's unreadable files.
				level := daemon.LevelErr
				if code == exitPartial {
					level = daemon.LevelWarning
				}
				fmt.Fprintln(os.Stderr, daemon.Leveled(level, "cairn: "+err.Error()))
			}
		}
	}
	os.Exit(code)
}

// stopOnSignal returns a context cancelled by the first of sigs, so that
// the command stops cleanly (exit 130). A second one, while it is still
// stopping (a storage that does not answer, a long pack upload), stops the
// process at once as restic does: the lock objects it holds are removed if
// the storage answers within forceStopUnlock, and it exits 130. What it
// leaves is what a crash leaves: at most an unfinished pack, which the
// repository does not refer to and prune removes. A second SIGHUP is not
// one: a lost terminal sends it twice; nor is a signal within
// sameSignalWindow of the first (timeout(1) sends its SIGTERM twice).
// Without force (the daemon) later
// signals change nothing; with it, a stop that takes more than
// stoppingNoticeAfter is said (tellStopping) unless ended was called.
func stopOnSignal(sigs []os.Signal, g *globals, force bool) (ctx context.Context, stop, ended func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	over := make(chan struct{})
	signal.Notify(ch, sigs...)
	go func() {
		if _, ok := <-ch; !ok {
			return
		}
		first := time.Now()
		cancel()
		if !force {
			return
		}
		go tellStopping(g, over)
		for sig := range ch {
			// A hangup comes twice when a terminal or ssh session goes
			// away (from the shell to its jobs, then from the kernel to
			// the foreground group when the shell exits): nobody asked
			// twice, so the clean stop goes on. So does a signal that
			// follows the first at once: GNU timeout sends its SIGTERM to
			// the command and then to its whole process group, so
			// `timeout 2h cairn ingest` gets two within microseconds.
			if sig != syscall.SIGHUP && time.Since(first) >= sameSignalWindow {
				forceStop(g)
			}
		}
	}()
	var once sync.Once
	end := func() { once.Do(func() { close(over) }) }
	return ctx, func() { signal.Stop(ch); end(); cancel() }, end
}

// stoppingNoticeAfter is how long a command may take to stop cleanly
// after an interrupt before it says that it is stopping.
var stoppingNoticeAfter = time.Second

// tellStopping says, when the command has not ended (ended closed)
// within stoppingNoticeAfter of an interrupt, that it is stopping and how
// to stop it at once: a stop held up by a source that does not answer (a
// hung network or FUSE mount) or a long upload looked like an interrupt
// that was not heard.
func tellStopping(g *globals, ended <-chan struct{}) {
	t := time.NewTimer(stoppingNoticeAfter)
	defer t.Stop()
	select {
	case <-ended:
		return
	case <-t.C:
	}
	if g.quiet || g.json {
		return
	}
	fmt.Fprintf(os.Stderr, "%scairn: stopping: waiting for what is under way to end (interrupt a second time to stop at once)\n", belowLiveLine())
}

// belowLiveLine starts a message said while a progress line may be shown
// on a terminal on a line of its own.
func belowLiveLine() string {
	if isTerminal(os.Stderr) {
		return "\n"
	}
	return ""
}

// sameSignalWindow: a second stop signal this soon after the first is
// the same request delivered twice (GNU timeout, a process-group kill),
// not someone asking again.
const sameSignalWindow = 200 * time.Millisecond

// forceStopUnlock bounds the wait for the lock's removal on a second
// interrupt.
var forceStopUnlock = 3 * time.Second

// forceStop ends the process at once after a second interrupt.
func forceStop(g *globals) {
	err := errors.New("interrupted again: stopped at once without finishing (an unfinished pack may be left for prune)")
	if g.json {
		printJSONError(err, exitInterrupted)
	} else {
		fmt.Fprintf(os.Stderr, "%scairn: %v\n", belowLiveLine(), err)
	}
	removePartials()
	ctx, cancel := context.WithTimeout(context.Background(), forceStopUnlock)
	repo.ReleaseHeldLocks(ctx)
	cancel()
	os.Exit(exitInterrupted)
}

// finishOnBrokenPipe tells whether the command args names goes on to its
// end when its output is closed by its reader (ingest) rather than stops.
func finishOnBrokenPipe(root *cobra.Command, args []string) bool {
	return commandName(root, args) == "ingest"
}

// commandName is the name of the command args names ("" if none).
func commandName(root *cobra.Command, args []string) string {
	if c, _, err := root.Find(args); err == nil {
		return c.Name()
	}
	return ""
}

// stopSignals are the signals that stop the command args names, as Ctrl-C
// does: the lock released, what was stored indexed, a mount unmounted.
// SIGHUP too (an ssh session or terminal that went away), which would
// otherwise kill it there, leaving a mount point that answers "transport
// endpoint is not connected"; but not for the daemon, which reloads its
// configuration on SIGHUP, nor when SIGHUP is ignored (nohup).
func stopSignals(root *cobra.Command, args []string) []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if commandName(root, args) == "daemon" {
		return sigs
	}
	if signal.Ignored(syscall.SIGHUP) {
		return sigs
	}
	return append(sigs, syscall.SIGHUP)
}

// jsonAsked tells whether args ask for --json, for an error met before
// the flags were all parsed (an unknown flag or command stops cobra before
// it reaches a --json that follows): a script that asked for JSON gets
// its error as JSON whatever came first. Arguments after "--" are a
// command's, not cairn's.
func jsonAsked(args []string) bool {
	asked := false
	for _, a := range args {
		switch {
		case a == "--":
			return asked
		case a == "--json":
			asked = true
		case strings.HasPrefix(a, "--json="):
			// the spellings pflag takes: 1, t, T, TRUE, true, True, ...
			if v, err := strconv.ParseBool(strings.TrimPrefix(a, "--json=")); err == nil {
				asked = v
			}
		}
	}
	return asked
}

// flagParseError marks an error of cobra's flag parsing: the flags after
// the one it stopped at were not parsed.
type flagParseError struct{ err error }

func (e *flagParseError) Error() string { return e.err.Error() }
func (e *flagParseError) Unwrap() error { return e.err }

// flagsUnparsed tells whether err, from running cmd, came before cmd's
// flags were all parsed (an unknown command, an unknown or malformed
// flag): only then may --json be looked for in the raw arguments. Once
// they were, --json was parsed or is not there, and an argument spelt
// --json is something else: the value of another flag (-r --json) or a
// command's argument.
func flagsUnparsed(cmd *cobra.Command, err error) bool {
	var fe *flagParseError
	return cmd == nil || !cmd.Flags().Parsed() || errors.As(err, &fe)
}

// errSilent marks an exitError whose story was already told.
var errSilent = errors.New("")

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "Deduplicated, compressed, encrypted backups you can mount",
		Long: `cairn keeps backups in a deduplicated, compressed, encrypted repository
(a local folder, or S3-compatible object storage) and restores them exactly.

Repository locations: a folder ("/srv/backup", "local:/srv/backup") or
"s3:http(s)://host[:port]/bucket[/prefix]", or as restic writes it
"s3:host[:port]/bucket[/prefix]" for https (credentials from AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, else from the profile AWS_PROFILE
or "default" in ~/.aws/credentials or ~/.aws/config; region from
AWS_REGION, else AWS_DEFAULT_REGION, else that profile's region).

Environment:
  CAIRN_REPOSITORY        repository location (or -r)
  CAIRN_PASSWORD_FILE     file holding the password
  CAIRN_PASSWORD_COMMAND  command printing the password (run without a shell)
  CAIRN_PASSWORD          the password itself
  CAIRN_CACHE_DIR         where the local index lives (default: XDG cache dir,
                          or $TMPDIR/cairn-UID without HOME)
  CAIRN_SOCKET            the daemon's control socket (or --socket)
  CAIRN_NEW_PASSWORD_FILE
                          file holding the new password (key add, key passwd)
  CAIRN_FROM_REPOSITORY, CAIRN_FROM_PASSWORD_FILE, CAIRN_FROM_PASSWORD_COMMAND,
  CAIRN_FROM_PASSWORD     the source repository of cairn copy
  CAIRN_CHECKPOINT_MIB    MiB of new packs an ingest uploads between index
                          checkpoints (default 256): the next ingest after an
                          interrupted one reuses what it uploaded up to its
                          last checkpoint; smaller suits a slow link

Exit codes: 0 success, 1 failure, 3 snapshot saved but some files unreadable,
10 no repository (the storage says none is there, or no location was given),
11 lock failed, 12 wrong password (an empty one included), 130 interrupted,
141 stdout or stderr closed by its reader (cairn ls | head), as for SIGPIPE
(ingest still saves its snapshot first: its 141 means saved, output cut).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			g.passwordFile, g.passwordCommand = givenOverEnv(cmd, "password-file", g.passwordFile, "password-command", g.passwordCommand)
		},
	}
	g.register(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagParseError{resticFlagError(c, err)}
	})
	root.AddCommand(
		newInitCommand(g),
		newIngestCommand(g),
		newSnapshotsCommand(g),
		newLsCommand(g),
		newRestoreCommand(g),
		newCopyCommand(g),
		newDumpCommand(g),
		newCatCommand(g),
		newMountCommand(g),
		newUnlockCommand(g),
		newDaemonCommand(g),
		newStatusCommand(g),
		newRunCommand(g),
		newDiffCommand(g),
		newFindCommand(g),
		newVersionsCommand(g),
		newTUICommand(g),
		newPruneCommand(g),
		newCheckCommand(g),
		newRepairCommand(g),
		newRecoverCommand(g),
		newForgetCommand(g),
		newTagCommand(g),
		newRewriteCommand(g),
		newKeyCommand(g),
		newStatsCommand(g),
		newVersionCommand(g),
		newListCommand(),
	)
	root.InitDefaultCompletionCmd() // now, so that it refuses unknown shells too
	root.SetHelpCommand(newHelpCommand(root))
	refuseUnknownSubcommands(root)
	return root
}

// startProfile writes a CPU profile to $CAIRN_CPUPROFILE, a profile of
// lock waits to $CAIRN_MUTEXPROFILE, and heap
// profiles to $CAIRN_MEMPROFILE.NN every second and $CAIRN_MEMPROFILE.end
// at the end (its alloc_space is everything the command allocated), for
// the benchmarks in bench/.
func startProfile() func() {
	stopMem := func() {}
	// An execution trace (go tool trace) shows where the pipelines wait.
	if tp := os.Getenv("CAIRN_TRACE"); tp != "" {
		if f, err := os.Create(tp); err == nil {
			if trace.Start(f) == nil {
				stopMem = func() { trace.Stop(); f.Close() }
			} else {
				f.Close()
			}
		}
	}
	if mp := os.Getenv("CAIRN_MEMPROFILE"); mp != "" {
		stopTrace := stopMem
		stopMem = func() {
			stopTrace()
			if f, err := os.Create(mp + ".end"); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		// A heap profile every second, numbered, to find the peak.
		go func() {
			for i := 0; ; i++ {
				time.Sleep(time.Second)
				if f, err := os.Create(fmt.Sprintf("%s.%02d", mp, i)); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}()
	}
	// Where goroutines wait for each other's locks.
	if mp := os.Getenv("CAIRN_MUTEXPROFILE"); mp != "" {
		runtime.SetMutexProfileFraction(1)
		stopBefore := stopMem
		stopMem = func() {
			stopBefore()
			if f, err := os.Create(mp); err == nil {
				pprof.Lookup("mutex").WriteTo(f, 0)
				f.Close()
			}
		}
	}
	path := os.Getenv("CAIRN_CPUPROFILE")
	if path == "" {
		return stopMem
	}
	f, err := os.Create(path)
	if err != nil {
		return stopMem
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return stopMem
	}
	return func() { pprof.StopCPUProfile(); f.Close(); stopMem() }
}

// newHelpCommand is cobra's help command, but an unknown topic is an
// error (exit 1, as an unknown command is): cobra's printed the usage and
// exited 0, so a script asking for help on a command this version lacks
// saw success.
func newHelpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the help of any command: cairn help COMMAND [SUBCOMMAND].",
		// As cobra's: the shell completes the commands' names.
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name()+"\t"+sub.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			// rest: words after the deepest command found (help key
			// nosuch), which name no topic either.
			cmd, rest, err := root.Find(args)
			if cmd == nil || err != nil || len(rest) > 0 {
				return fmt.Errorf("no help topic %q: cairn help lists the commands", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}
