package daemon

import (
	"context"
	"testing"
	"time"
)

// A failed --stdin-from-command, source command or hook is named as a shell would read it back, so
// that a log line shows where each argument begins and ends.
func TestShellWords(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pg_dump", "-h", "db.example.com", "--format=custom", "app"}, "pg_dump -h db.example.com --format=custom app"},
		{[]string{"sh", "-c", "head -c 1M /dev/zero; kill -9 $$"}, `sh -c 'head -c 1M /dev/zero; kill -9 $$'`},
		{[]string{"echo", "it's", ""}, `echo 'it'\''s' ''`},
	} {
		if got := ShellWords(c.args); got != c.want {
			t.Errorf("ShellWords(%q) = %s, want %s", c.args, got, c.want)
		}
	}
}

// A hook that fails is named in the run's error as it was written, with a
// shell line kept whole, as a failed source command and ingest's
// --stdin-from-command are.
func TestHookFailureNamesCommand(t *testing.T) {
	log := &testLog{}
	err := runHook(context.Background(), Hook{Command: Command{"/bin/sh", "-c", "echo hi; exit 3"}, Timeout: Duration(10 * time.Second)}, nil, log.logf, "hook")
	if err == nil || err.Error() != "/bin/sh -c 'echo hi; exit 3': exit status 3" {
		t.Fatalf("hook: %v", err)
	}
}
