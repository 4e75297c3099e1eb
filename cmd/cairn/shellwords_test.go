package main

import "testing"

// A failed --stdin-from-command is named as a shell would read it back, so
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
		if got := shellWords(c.args); got != c.want {
			t.Errorf("shellWords(%q) = %s, want %s", c.args, got, c.want)
		}
	}
}
