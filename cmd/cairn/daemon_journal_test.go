package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Under systemd, a daemon source's command and hooks are told, as
// `ingest --stdin-from-command` tells its command, that their stderr is
// the journal, and the "<N>" priority prefix of each line they write
// reaches journald, before the daemon's "source NAME: command: " label.
// Before, the command found a plain pipe (JOURNAL_STREAM named the
// daemon's stream) and its levels were lost; one that wrote them anyway
// had them buried mid-line behind the label. A last line without a
// newline was dropped too, and a command that left a process holding
// its stderr failed the run after 5 s.
func TestDaemonCommandStderrIsJournal(t *testing.T) {
	c := newCLI(t)
	journal, stream := journalPair(t, c)
	defer journal.Close()
	work := t.TempDir()
	sock := filepath.Join(socketDir(t), "cairn.sock")
	cfgPath := filepath.Join(work, "cairn.yaml")
	// Says what its stderr is, as a level-aware program decides.
	says := func(what string) string {
		return fmt.Sprintf(`if [ \"$(stat -L -c %%d:%%i /proc/self/fd/2)\" = \"$JOURNAL_STREAM\" ]; then echo '<4>%[1]s: a warning' >&2; else echo '%[1]s: not the journal' >&2; fi`, what)
	}
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`repository: %s
password_file: %s
cache_dir: %s
socket: %s
sources:
  - name: db
    command: "%s; printf 'no newline' >&2; echo data"
    before:
      - command: "%s"
  - name: left
    command: "sleep 30 >/dev/null & echo data"
  - name: bad
    command: "echo data; exit 2"
`, c.repoDir(), envValue(c.env, "CAIRN_PASSWORD_FILE"), envValue(c.env, "CAIRN_CACHE_DIR"), sock, says("dump"), says("hook"))), 0o600)
	c.env = append(c.env, "CAIRN_SOCKET="+sock)

	log := &syncBuffer{}
	copied := make(chan struct{})
	go func() { io.Copy(log, journal); close(copied) }()
	cmd := c.cmd("daemon", "--config", cfgPath)
	cmd.Stderr, cmd.Stdout = stream, stream
	d := launchDaemon(t, cmd, sock)
	stream.Close()
	c.ok("run", "db")
	// A command that leaves a process holding its stderr (a helper it
	// started) but succeeded, its output all read, saves its snapshot,
	// as with ingest --stdin-from-command; it failed the run.
	if out, code := c.run("run", "left"); code != 0 {
		t.Errorf("cairn run left: exit %d: %s", code, out)
	}
	// A failure is logged at the journal's err level, so that
	// journalctl -p err finds it.
	if _, code := c.run("run", "bad"); code != 1 {
		t.Errorf("cairn run bad: exit %d, want 1", code)
	}
	if code := d.stop(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatalf("the journal's stream stayed open after the daemon exited:\n%s", log.String())
	}
	got := log.String()
	for _, want := range []string{
		"\n<4>source db: before hook 1: hook: a warning\n",
		"\n<4>source db: command: dump: a warning\n",
		"\nsource db: command: no newline\n",
		"\n<3>source bad: failure after ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the journal's stream did not receive %q:\n%s", want[1:], got)
		}
	}
	if got := c.ok("--no-daemon", "dump", "latest", "db"); got != "data\n" {
		t.Errorf("the snapshot holds %q, want the command's output", got)
	}
}
