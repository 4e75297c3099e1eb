package daemon

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// StderrIsJournal reports whether this process's stderr is the systemd
// journal's stream, as JOURNAL_STREAM ("DEVICE:INODE") says when it
// matches fd 2.
func StderrIsJournal() bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(2, &st) != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// Priority levels of the journal's "<N>" line prefixes.
const (
	LevelErr     = 3
	LevelWarning = 4
)

// Level returns the "<N>" prefix that gives a line written to stderr
// the journal priority n when stderr is the journal's stream (journald
// reads it, as SyslogLevelPrefix= is by default), and "" otherwise. Only
// what asks for attention is marked: everything else keeps the unit's
// default level.
func Level(n int) string {
	if !StderrIsJournal() {
		return ""
	}
	return fmt.Sprintf("<%d>", n)
}

// Leveled is msg (without its final newline) with Level(n) before each
// of its lines: journald takes every line as an entry of its own, and the
// lines after a message's first (an error's advice on what to do) would
// otherwise land at the unit's default level, apart from the line they
// explain. It is msg itself when stderr is not the journal.
func Leveled(n int, msg string) string {
	p := Level(n)
	if p == "" {
		return msg
	}
	return p + strings.ReplaceAll(msg, "\n", "\n"+p)
}

// JournalRelay carries a child's stderr to a writer through a pipe of our
// own, and sets the child's JOURNAL_STREAM to that pipe: a program that
// checks JOURNAL_STREAM against its stderr, as systemd-aware ones do,
// writes its "<N>" priority prefixes, which the writer passes on to the
// journal. Handing the child the journal's stream itself would do as much,
// but a journald stopped or crashed mid-run would then kill it with
// SIGPIPE (a Go parent resets the SIGPIPE that systemd ignores to its
// default in its children), and a nightly dump with it.
//
// Both `cairn ingest --stdin-from-command` and the daemon's sources and
// hooks use it, so a command logs the same way under either.
type JournalRelay struct {
	pr, pw *os.File
	to     io.Writer
	done   chan struct{}
}

// NewJournalRelay, when this process's stderr is the journal's stream,
// makes cmd's stderr (and its stdout, when that is the same writer as its
// stderr) the relay's pipe and adds the pipe's JOURNAL_STREAM to cmd's
// environment. It returns nil, changing nothing, when stderr is not the
// journal or the pipe cannot be made. Call Started after cmd.Start and
// Wait after cmd.Wait.
func NewJournalRelay(cmd *exec.Cmd, to io.Writer) *JournalRelay {
	if !StderrIsJournal() {
		return nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(int(pw.Fd()), &st) != nil {
		pr.Close()
		pw.Close()
		return nil
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	// exec keeps the last of duplicate keys: this one.
	cmd.Env = append(cmd.Env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	if cmd.Stdout != nil && cmd.Stdout == cmd.Stderr {
		cmd.Stdout = pw
	}
	cmd.Stderr = pw
	return &JournalRelay{pr: pr, pw: pw, to: to, done: make(chan struct{})}
}

// Started closes our copy of the pipe's write end (the child holds it
// now) and, when the child started (err is cmd.Start's error), starts
// relaying.
func (r *JournalRelay) Started(err error) {
	r.pw.Close()
	if err != nil {
		r.pr.Close()
		close(r.done)
		return
	}
	go func() {
		io.Copy(r.to, r.pr)
		close(r.done)
	}()
}

// Wait waits, by grace at most, for the relay to have passed on all the
// child wrote; past it the pipe is closed under whatever process the child
// left behind holding it, and Wait reports false.
func (r *JournalRelay) Wait(grace time.Duration) bool {
	t := time.NewTimer(grace)
	defer t.Stop()
	ok := true
	select {
	case <-r.done:
	case <-t.C:
		ok = false
	}
	r.pr.Close()
	return ok
}
