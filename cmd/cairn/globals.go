package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/cairn-backup/cairn/repo"
)

// globals are the flags every command shares.
type globals struct {
	repo            string
	passwordFile    string
	passwordCommand string
	cacheDir        string
	json            bool
	quiet           bool
	noLock          bool
	retryLock       time.Duration
	storage         storageFlags
	daemon          daemonFlags

	// For a second repository (copy's source): the variable holding its
	// password (default CAIRN_PASSWORD), what the prompt calls it, and
	// what its password flags start with ("from-" for --from-password-file).
	passwordEnv string
	label       string
	// withBOM is the password as read before a leading UTF-8 byte order
	// mark was dropped (nil when there was none): a repository made
	// before BOMs were dropped has it in its password (open).
	withBOM []byte
	// oldSplit is the password command as split before backslashes
	// inside double quotes were kept (nil when it splits the same): a
	// repository made with 'printf "pw\n"' then has the password
	// "pwn", which open tries when the command's answer is wrong.
	oldSplit   []string
	flagPrefix string
	// configOf, for a repository whose password a daemon config names
	// (its own or a copy's password_file or password_command), says
	// whose keys they are ("copy offsite in the daemon config"): an
	// error then names the config key, not a flag the config's user
	// never set.
	configOf string
}

func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVarP(&g.repo, "repo", "r", os.Getenv("CAIRN_REPOSITORY"), "repository `location` (env CAIRN_REPOSITORY)")
	f.StringVar(&g.passwordFile, "password-file", os.Getenv("CAIRN_PASSWORD_FILE"), "read the password from `file` (env CAIRN_PASSWORD_FILE)")
	f.StringVar(&g.passwordCommand, "password-command", os.Getenv("CAIRN_PASSWORD_COMMAND"), "run `command` (no shell) for the password (env CAIRN_PASSWORD_COMMAND)")
	f.StringVar(&g.cacheDir, "cache-dir", os.Getenv("CAIRN_CACHE_DIR"), "local index `dir` (env CAIRN_CACHE_DIR)")
	f.BoolVar(&g.json, "json", false, "print JSON lines instead of text")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors")
	f.BoolVar(&g.noLock, "no-lock", false, "take no lock, for a repository on storage this user cannot write (only commands that read: snapshots, ls, find, diff, dump, restore, check, stats, versions, tui, forget --dry-run, prune --dry-run; for copy, the source)")
	f.DurationVar(&g.retryLock, "retry-lock", 0, "wait up to `duration` (1m, 30s) for a conflicting lock to go instead of failing (exit 11) at once")
	g.storage.register(root)
	g.daemon.register(root)
}

// password finds the password: file, command, variable, then a prompt on
// the terminal (twice when confirm is set). confirm is for a password that
// is about to be set (init): there an empty one is refused, whatever its
// source. To open a repository an empty password is tried like any other,
// and fails as a wrong one does, since no repository can have one.
func (g *globals) password(ctx context.Context, confirm bool) ([]byte, error) {
	pw, source, err := g.readPassword(ctx, confirm)
	if err != nil {
		return nil, err
	}
	if len(pw) == 0 {
		if confirm {
			return nil, emptyPasswordError(source)
		}
		if g.withBOM != nil {
			// Only a byte order mark: empty now, but a repository
			// made before BOMs were dropped has the mark alone for
			// its password (init took it as not empty).
			return g.withBOM, nil
		}
		// No repository has an empty password: say where the empty one
		// came from (an unmounted secret, a command that printed
		// nothing), with the wrong password's exit code.
		return nil, fmt.Errorf("the password from %s is empty: %w", source, repo.ErrWrongPassword)
	}
	return pw, nil
}

// emptyPasswordError refuses an empty new password read from source.
func emptyPasswordError(source string) error {
	return fmt.Errorf("the password from %s is empty: a repository password cannot be empty", source)
}

// readPassword is password without the check, also returning where the
// password came from.
func (g *globals) readPassword(ctx context.Context, confirm bool) ([]byte, string, error) {
	if g.passwordFile != "" && g.passwordCommand != "" {
		// Both given the same way (two flags, two variables, or both keys
		// of a daemon config): which one was meant is a guess, so refuse,
		// as restic does. A flag still beats the other kind's variable
		// (givenOverEnv).
		if g.configOf != "" {
			return nil, "", fmt.Errorf("password_file and password_command of %s are both set: keep only one", g.configOf)
		}
		v := g.passwordVar()
		return nil, "", fmt.Errorf("--%spassword-file and --%spassword-command (or %s_FILE and %s_COMMAND) are both given: give only one",
			g.flagPrefix, g.flagPrefix, v, v)
	}
	switch {
	case g.passwordFile != "":
		source := "--" + g.flagPrefix + "password-file " + g.passwordFile
		if v := g.passwordVar() + "_FILE"; os.Getenv(v) == g.passwordFile {
			source = v + "=" + g.passwordFile // what a timer's unit file says
		}
		if g.configOf != "" {
			source = "password_file " + g.passwordFile + " of " + g.configOf
		}
		b, err := readPasswordFile(g.passwordFile)
		if err != nil {
			return nil, source, fmt.Errorf("read password file: %w", err)
		}
		return g.dropBOM(firstLine(b)), source, nil
	case g.passwordCommand != "":
		source := fmt.Sprintf("--%spassword-command %q", g.flagPrefix, g.passwordCommand)
		if v := g.passwordVar() + "_COMMAND"; os.Getenv(v) == g.passwordCommand {
			source = fmt.Sprintf("%s=%q", v, g.passwordCommand)
		}
		if g.configOf != "" {
			source = fmt.Sprintf("password_command %q of %s", g.passwordCommand, g.configOf)
		}
		args, err := splitCommand(g.passwordCommand)
		if err != nil {
			return nil, source, fmt.Errorf("password command: %w", err)
		}
		g.oldSplit = nil
		if old, err := splitCommandAs(g.passwordCommand, false); err == nil && !slices.Equal(old, args) {
			g.oldSplit = old
		}
		out, err := g.runPasswordCommand(ctx, args)
		if err != nil {
			return nil, source, err
		}
		return g.dropBOM(firstLine(out)), source, nil
	case os.Getenv(g.passwordVar()) != "":
		return []byte(os.Getenv(g.passwordVar())), g.passwordVar(), nil
	}
	label, v := "repository", g.passwordVar()
	if g.label != "" {
		label = g.label
	}
	pw, err := promptPassword(ctx, "enter password for "+label+": ", confirm,
		fmt.Sprintf("no password for the %s: set %s_FILE, %s_COMMAND or %s, or run on a terminal", label, v, v, v))
	return pw, "the terminal", err
}

// runPasswordCommand runs the password command split as args and returns
// what it printed.
func (g *globals) runPasswordCommand(ctx context.Context, args []string) ([]byte, error) {
	// An interrupt stops a command that does not answer (a secret
	// store waiting on a network) instead of being ignored until it
	// ends.
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = 2 * time.Second // a child it left holding the pipe
	cmd.Stderr = os.Stderr
	out := &cappedOutput{stop: func() { cmd.Process.Kill() }}
	cmd.Stdout = out
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if out.over {
		return nil, fmt.Errorf("password command %q printed more than 64 KiB: it should print the password on its first line", g.passwordCommand)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited with success but left a child holding its
		// output (an agent it started in the background): what it
		// printed is the answer.
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("password command %q: %w", g.passwordCommand, err)
	}
	return out.buf.Bytes(), nil
}

// givenOverEnv returns a password file and command (the values of flags
// fileFlag and commandFlag) with the one that only came from its
// environment variable dropped when the other was given as a flag: an
// explicit --password-command is used even though CAIRN_PASSWORD_FILE is
// set, as an explicit --password-file is even though
// CAIRN_PASSWORD_COMMAND is.
func givenOverEnv(cmd *cobra.Command, fileFlag, file, commandFlag, command string) (string, string) {
	fl := cmd.Flags()
	switch {
	case fl.Changed(commandFlag) && !fl.Changed(fileFlag):
		file = ""
	case fl.Changed(fileFlag) && !fl.Changed(commandFlag):
		command = ""
	}
	return file, command
}

// passwordVar is the environment variable that may hold the password.
func (g *globals) passwordVar() string {
	if g.passwordEnv != "" {
		return g.passwordEnv
	}
	return "CAIRN_PASSWORD"
}

// promptPassword asks on the terminal (twice when confirm is set); without
// one it fails with noTTY.
func promptPassword(ctx context.Context, prompt string, confirm bool, noTTY string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, errors.New(noTTY)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	p, err := readTerminalPassword(ctx, tty)
	fmt.Fprintln(tty)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(tty, "enter password again: ")
		p2, err := readTerminalPassword(ctx, tty)
		fmt.Fprintln(tty)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p, p2) {
			return nil, errors.New("passwords do not match")
		}
	}
	// An empty new password is refused here; an empty one to open a
	// repository is tried, and fails as a wrong one (exit 12), as from
	// a file or a command (globals.password).
	if len(p) == 0 && confirm {
		return nil, errors.New("empty password")
	}
	return p, nil
}

// readTerminalPassword reads a password typed on tty without echo. Ctrl-C
// (ctx cancelled) ends it at once with the terminal's echo back on, where
// term.ReadPassword alone would wait for Enter.
func readTerminalPassword(ctx context.Context, tty *os.File) ([]byte, error) {
	fd := int(tty.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	type result struct {
		p   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := readPasswordLine(fd)
		ch <- result{p, err}
	}()
	select {
	case r := <-ch:
		return r.p, r.err
	case <-ctx.Done():
		term.Restore(fd, state)
		return nil, context.Cause(ctx)
	}
}

// utf8BOM is the byte order mark some editors (Notepad, PowerShell's
// Out-File) put at the start of a text file.
var utf8BOM = []byte("\xef\xbb\xbf")

// dropBOM returns pw without a leading UTF-8 byte order mark, as restic
// does: invisible, it cannot be typed at a prompt, so a password made
// with it could only ever be given from that file. The password with it
// is kept in g.withBOM for open.
func (g *globals) dropBOM(pw []byte) []byte {
	g.withBOM = nil
	if bytes.HasPrefix(pw, utf8BOM) {
		g.withBOM = pw
		return pw[len(utf8BOM):]
	}
	return pw
}

// errNoPasswordTyped is Ctrl-D (end of input) at an empty password prompt.
var errNoPasswordTyped = errors.New("no password typed (end of input)")

// readPasswordLine reads a line from the terminal fd with echo off, as
// term.ReadPassword, except that Ctrl-D at an empty prompt ends it with
// errNoPasswordTyped: term.ReadPassword takes the terminal's end of input
// for nothing and goes on waiting, so Ctrl-D did nothing at all. End of
// input after some characters (Ctrl-D twice: the first hands the line
// over) ends the password there, as term.ReadPassword does.
func readPasswordLine(fd int) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	defer term.Restore(fd, state)
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return nil, err
	}
	var p []byte
	var buf [1]byte
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 { // Ctrl-D
			if len(p) == 0 {
				return nil, errNoPasswordTyped
			}
			return p, nil
		}
		switch buf[0] {
		case '\n':
			return p, nil
		case '\r': // ignored, as term.ReadPassword does
		case '\b':
			if len(p) > 0 {
				p = p[:len(p)-1]
			}
		default:
			p = append(p, buf[0])
		}
	}
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimSuffix(b, []byte("\r"))
}

// splitCommand splits a command line on blanks, honouring single and double
// quotes and backslashes as a POSIX shell does, without any shell: inside
// double quotes a backslash only escapes $, `, ", \ and a newline, and is
// kept before anything else, so 'printf "pw\n"' prints pw and a newline.
func splitCommand(s string) ([]string, error) {
	return splitCommandAs(s, true)
}

// splitCommandAs is splitCommand, or with posix false as cairn split
// before 7019113: a backslash escaped any character, inside double
// quotes too, and a backslash-newline was a newline.
func splitCommandAs(s string, posix bool) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quote, esc := false, rune(0), false
	for _, r := range s {
		switch {
		case esc && !posix:
			esc = false
			cur.WriteRune(r)
		case esc:
			esc = false
			if r == '\n' {
				continue // a line continuation, as in a shell
			}
			if quote == '"' && !strings.ContainsRune("$`\"\\", r) {
				cur.WriteRune('\\')
			}
			cur.WriteRune(r)
		case r == '\\' && quote != '\'':
			esc, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || esc {
		return nil, errors.New("unterminated quote or escape")
	}
	if inWord {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, errors.New("empty command")
	}
	return out, nil
}

func (g *globals) location() (string, error) {
	if g.repo == "" {
		return "", fmt.Errorf("no repository given: use -r or set CAIRN_REPOSITORY: %w", repo.ErrNoRepository)
	}
	return g.repo, nil
}

// open opens the repository for a command; mods adjust the options.
func (g *globals) open(ctx context.Context, mods ...func(*repo.Options)) (*repo.Repository, error) {
	open, err := g.opener(ctx, mods...)
	if err != nil {
		return nil, err
	}
	return open(ctx, nil)
}

// opener does what opening the repository needs of the user first (the
// location, its config, the password, which may be asked on the
// terminal) and returns what does the rest: the key, the local index,
// which may take long (a first run, an index to read from the storage),
// telling progress (repo.Options.Progress, may be nil) what it does. The
// TUI calls it with its screen up, showing the steps.
func (g *globals) opener(ctx context.Context, mods ...func(*repo.Options)) (func(context.Context, func(string, int, int)) (*repo.Repository, error), error) {
	loc, err := g.location()
	if err != nil {
		return nil, err
	}
	be, err := g.openBackend(ctx, loc, false)
	if err != nil {
		return nil, err
	}
	if _, err := repo.ReadConfig(ctx, be); err != nil {
		be.Close()
		return nil, err
	}
	pw, err := g.password(ctx, false)
	if err != nil {
		be.Close()
		return nil, err
	}
	// CAIRN_CHECKPOINT_MIB: write an index checkpoint after this many MiB
	// of new packs (default 256). A value that is not a number of MiB is
	// said, not silently ignored; but only said: it tunes ingest alone,
	// and must not stop a restore, a mount or a check. Said here, before
	// the TUI's screen comes up.
	var checkpoint int64
	if s := os.Getenv("CAIRN_CHECKPOINT_MIB"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 || v > 1<<20 {
			g.warnf("CAIRN_CHECKPOINT_MIB=%q is not a whole number of MiB from 1 to 1048576: ignored, an ingest checkpoints every %d MiB", s, repo.CheckpointBytes>>20)
		} else {
			checkpoint = int64(v) << 20
		}
	}
	return func(ctx context.Context, progress func(string, int, int)) (*repo.Repository, error) {
		opt := repo.Options{Password: pw, CacheDir: g.cacheDir, Log: g.notice, Progress: progress, CheckpointBytes: checkpoint}
		for _, m := range mods {
			m(&opt)
		}
		r, err := repo.Open(ctx, be, opt)
		if errors.Is(err, repo.ErrWrongPassword) {
			split, cerr := g.tryOlderPasswords(ctx, opt.Password, func(pw []byte) bool {
				opt.Password = pw
				r, err = repo.Open(ctx, be, opt)
				return !errors.Is(err, repo.ErrWrongPassword)
			})
			switch {
			case cerr != nil:
				err = cerr
			case split && err == nil && opt.Log != nil:
				opt.Log("%s", oldSplitNotice) // in the TUI, shown in it
			}
		}
		if err != nil {
			be.Close()
			return nil, err
		}
		// Deriving the key took 19 MiB (argon2id), garbage now. The heap of a
		// small command never grows into it again, so hand it back at once
		// instead of carrying it to the end: an unchanged ingest of the
		// benchmark corpus peaked at 43 MiB instead of 56.
		debug.FreeOSMemory()
		return r, nil
	}, nil
}

// openLocked opens the repository and takes a shared lock for operation.
// The returned release unlocks and closes; the lock's context is cancelled
// if its lease is lost.
func (g *globals) openLocked(ctx context.Context, operation string) (*repo.Repository, *repo.Lock, func(), error) {
	r, err := g.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	lock, err := g.lock(ctx, r, false, operation)
	if err != nil {
		r.Close()
		return nil, nil, nil, err
	}
	return r, lock, func() { g.unlock(lock); r.Close() }, nil
}

// openReading opens the repository for a command that only reads it, and
// returns the context to run it in. It takes a shared lock, whose context
// is cancelled if its lease is lost; with --no-lock it takes none, as
// restic's --no-lock, so that a repository on read-only storage (a
// read-only mount, a bucket this key may only read) can still be listed,
// checked and restored from. A prune elsewhere then does not know of the
// reader, but deletes only what its marks made unused a grace period ago.
func (g *globals) openReading(ctx context.Context, operation string, mods ...func(*repo.Options)) (*repo.Repository, context.Context, func(), error) {
	if g.noLock {
		r, err := g.open(ctx, mods...)
		if err != nil {
			return nil, nil, nil, err
		}
		return r, ctx, func() { r.Close() }, nil
	}
	r, err := g.open(ctx, mods...)
	if err != nil {
		// Not the lock: reading the repository failed, which --no-lock
		// would not help.
		return nil, nil, nil, err
	}
	lock, err := g.lock(ctx, r, false, operation)
	if err != nil {
		r.Close()
		if repo.LockUnwritable(err) {
			err = fmt.Errorf("%w\n%s only reads the repository, but its lock must be written there: --no-lock reads without one", err, operation)
		}
		return nil, nil, nil, err
	}
	return r, lock.Context(), func() { g.unlock(lock); r.Close() }, nil
}

// unlock removes lock and says so when it cannot (the storage stopped
// answering): the lock then stays until it goes stale, and meanwhile a
// prune on another host (any command, for an exclusive lock) waits or
// fails with exit 11.
func (g *globals) unlock(l *repo.Lock) {
	if err := l.Unlock(); err != nil {
		g.warnf("could not remove this command's lock: %v; until it goes stale (30 min), it stops a prune elsewhere: `cairn unlock` removes it", err)
	}
}

// Waiting for a lock (--retry-lock): the first pause, and the longest.
var (
	retryLockFirst = 500 * time.Millisecond
	retryLockMax   = 30 * time.Second
)

// lockAdvice says what to do about the locks of err. Removing a lock whose
// holder runs lets a prune delete what that holder is writing, so when a
// holder is a process running on this host, only waiting is offered.
func lockAdvice(err error) string {
	var le *repo.LockedError
	if errors.As(err, &le) {
		var pids []string
		for _, l := range le.Locks {
			if l.HeldHere() {
				pids = append(pids, strconv.Itoa(l.PID))
			}
		}
		// --remove-all would remove the live one too, whatever the
		// others are.
		if len(pids) > 0 {
			return fmt.Sprintf("the lock is held by cairn running on this host (pid %s): wait for it to end, or give --retry-lock DURATION to wait; do not remove a live lock",
				strings.Join(pids, ", "))
		}
	}
	return "`cairn unlock` removes stale locks; `cairn unlock --remove-all` removes every lock, if you know their holders are dead; --retry-lock DURATION waits for them"
}

// lock takes a lock on r for operation, shared or exclusive, waiting up to
// --retry-lock for conflicting locks to go, with growing pauses. When it
// still cannot, the error says what to do about it.
func (g *globals) lock(ctx context.Context, r *repo.Repository, exclusive bool, operation string) (*repo.Lock, error) {
	if g.noLock {
		return nil, fmt.Errorf("--no-lock is only for commands that read the repository; %s writes to it, under a lock", operation)
	}
	deadline := time.Now().Add(g.retryLock)
	pause := retryLockFirst
	for waited := false; ; waited = true {
		l, err := r.Lock(ctx, exclusive, operation)
		if err == nil || !errors.Is(err, repo.ErrLocked) {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			if waited {
				err = fmt.Errorf("%w (still locked after waiting %s)", err, g.retryLock)
			}
			return nil, fmt.Errorf("%w\n%s", err, lockAdvice(err))
		}
		if !waited {
			g.notice("cairn: repository is locked, waiting up to %s: %v", g.retryLock, err)
		}
		// Jitter, so that two waiters that keep meeting fall out of step.
		t := time.NewTimer(min(pause/2+rand.N(pause/2+1), left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, retryLockMax)
	}
}

func (g *globals) notice(format string, args ...any) {
	if !g.quiet && !g.json {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// printJSON writes one JSON object as a line on stdout, in one write:
// lines printed at once from several goroutines (ingest -v --json's
// verbose_status beside its status lines) must not interleave, and a
// buffered writer wrote a line longer than its buffer (a long path) in
// two, with the other line free to land between.
func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	stdout.Write(append(b, '\n'))
}

// printJSONError writes a restic-shaped error message to stderr.
func printJSONError(err error, code int) {
	b, _ := json.Marshal(map[string]any{"message_type": "exit_error", "code": code, "message": err.Error()})
	os.Stderr.Write(append(b, '\n'))
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// oldSplitNotice is said when the password that opened the repository is
// what the password command printed as split before 7019113.
const oldSplitNotice = "cairn: the repository's password is what the password command printed with the backslashes inside its double quotes dropped, as cairn read it before: set the password it prints now with cairn key passwd"

// tryOlderPasswords gives try, until it says stop, the readings of the
// password that cairn made before and that differ from pw: the password
// file's bytes with their leading byte order mark (a repository made
// before the mark was dropped), then what the password command prints
// when split as before 7019113, when that split differs (backslashes
// inside double quotes were dropped). split says try stopped at the
// latter. The error is the command's, when it was stopped (ctx ended).
func (g *globals) tryOlderPasswords(ctx context.Context, pw []byte, try func(old []byte) (stop bool)) (split bool, err error) {
	if g.withBOM != nil && !bytes.Equal(g.withBOM, pw) && try(g.withBOM) {
		return false, nil
	}
	if g.oldSplit == nil {
		return false, nil
	}
	out, err := g.runPasswordCommand(ctx, g.oldSplit)
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		return false, nil
	}
	old := firstLine(out)
	return len(old) > 0 && !bytes.Equal(old, pw) && try(old), nil
}
