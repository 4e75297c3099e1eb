package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// When cairn's stderr is the journal's stream (JOURNAL_STREAM names its
// device and inode), the --stdin-from-command command gets that stream
// itself, not a relay's pipe: a program that checks JOURNAL_STREAM
// against its stderr, as systemd-aware ones do before writing "<N>"
// priority prefixes, finds the journal. Behind the relay it found a pipe
// and its messages lost their levels. A socket pair stands for the
// journal's stream.
func TestStdinCommandStderrIsJournal(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	journal := os.NewFile(uintptr(fds[0]), "journal")
	stream := os.NewFile(uintptr(fds[1]), "stream")
	defer journal.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fds[1], &st); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	c := newCLI(t)
	c.env = append(c.env, "JOURNAL_STREAM="+id)
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
