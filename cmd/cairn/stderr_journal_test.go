package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// journalPair makes a socket pair standing for the journal's stream:
// stream is cairn's stderr, journal journald's end; c's commands get the
// JOURNAL_STREAM that names stream.
func journalPair(t *testing.T, c *cli) (journal, stream *os.File) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	journal = os.NewFile(uintptr(fds[0]), "journal")
	stream = os.NewFile(uintptr(fds[1]), "stream")
	var st unix.Stat_t
	if err := unix.Fstat(fds[1], &st); err != nil {
		t.Fatal(err)
	}
	c.env = append(c.env, fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
	return journal, stream
}

// When cairn's stderr is the journal's stream (JOURNAL_STREAM names its
// device and inode), the --stdin-from-command command is told that its
// stderr is the journal: a program that checks JOURNAL_STREAM against its
// stderr, as systemd-aware ones do before writing "<N>" priority
// prefixes, finds the journal, and its prefixes reach it. Behind the
// relay it found a pipe and its messages lost their levels.
func TestStdinCommandStderrIsJournal(t *testing.T) {
	c := newCLI(t)
	journal, stream := journalPair(t, c)
	defer journal.Close()
	// The command says what its stderr is, as a level-aware program
	// decides, then writes a message with a priority prefix.
	script := `if [ "$(stat -L -c %d:%i /proc/self/fd/2)" = "$JOURNAL_STREAM" ]; then echo '<4>journal: a warning' >&2; else echo 'not the journal' >&2; fi; echo data`
	cmd := c.cmd("ingest", "--stdin-from-command", "--stdin-name", "x", "--", "sh", "-c", script)
	cmd.Stderr = stream
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(journal)
		got <- b.String()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ingest: %v: %s", err, <-got)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("ingest did not end")
	}
	if s := <-got; !strings.HasPrefix(s, "<4>journal: a warning\n") {
		t.Errorf("the journal's stream received %q; want the command's line with its priority prefix", s)
	}
}

// A journald stopped or crashed while the command runs (its end of the
// stream closed) does not kill the command with SIGPIPE at its next
// message: its stderr goes through cairn's relay, which drops what the
// journal no longer takes, and the snapshot is saved.
func TestStdinCommandJournalGone(t *testing.T) {
	c := newCLI(t)
	journal, stream := journalPair(t, c)
	journal.Close()
	script := `echo '<4>journal: a warning' >&2; echo data`
	cmd := c.cmd("ingest", "-q", "--stdin-from-command", "--stdin-name", "x", "--", "sh", "-c", script)
	cmd.Stderr = stream
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	stream.Close()
	// 141: saved, but cairn's own output was cut.
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != exitBrokenPipe {
		t.Fatalf("ingest with the journal gone: %v (exit %d): %s", err, code, out.String())
	}
	if got := c.ok("dump", "latest", "x"); got != "data\n" {
		t.Errorf("the snapshot holds %q, want the command's output", got)
	}
}

// When cairn's stderr is the journal's stream, what asks for attention
// carries a "<N>" priority prefix, so that `journalctl -p warning` (or a
// unit's OnFailure= mail that shows it) finds it: a file it cannot read
// and exit 3 at warning, a failure at err. Everything else keeps the
// unit's default level; on any other stderr no prefix is written.
func TestJournalLevels(t *testing.T) {
	c := newCLI(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	gone := filepath.Join(src, "gone")
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(src, link)
	journal, stream := journalPair(t, c)
	defer journal.Close()
	for _, args := range [][]string{
		{"ingest", "-q", src, gone},
		{"ingest", "-q", "--stdin-from-command", "--stdin-name", "x", "--", "false"},
		// An error of two lines, the second its advice.
		{"diff", "latest", "--live", link},
	} {
		cmd := c.cmd(args...)
		cmd.Stderr = stream
		cmd.Run()
	}
	stream.Close()
	var b bytes.Buffer
	b.ReadFrom(journal)
	for _, want := range []string{
		"<4>cairn: cannot read " + gone,
		"<4>cairn: snapshot ", // saved, but 1 path could not be read: exit 3
		"<3>cairn: command false failed",
		"\n<3>(--live " + link + " is a symlink", // the advice too
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the journal's stream received %q, want a line starting %q", b.String(), want)
		}
	}
	c.env = c.env[:len(c.env)-1] // JOURNAL_STREAM
	if out, _ := c.run("ingest", "-q", gone); strings.Contains(out, "<") {
		t.Errorf("not under the journal: %q", out)
	}
}
