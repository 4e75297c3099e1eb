package main

import (
	"reflect"
	"testing"
)

// TestSplitCommand checks that a password command is split as a POSIX
// shell would split it: inside double quotes a backslash is kept unless
// it escapes $, `, " or \, so that 'printf "pw\n"' is given pw\n, not pwn.
func TestSplitCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`cat /etc/pw`, []string{"cat", "/etc/pw"}},
		{`cat '/a b/c'`, []string{"cat", "/a b/c"}},
		{`cat "/a b/c"`, []string{"cat", "/a b/c"}},
		{`cat /a\ b/c`, []string{"cat", "/a b/c"}},
		{`printf "pw\n"`, []string{"printf", `pw\n`}},
		{`printf "pw\r\n"`, []string{"printf", `pw\r\n`}},
		{`printf 'pw\n'`, []string{"printf", `pw\n`}},
		{`printf pw\\n`, []string{"printf", `pw\n`}},
		{`sh -c "echo \"a b\" \$HOME \\ \x"`, []string{"sh", "-c", `echo "a b" $HOME \ \x`}},
		{`echo "\` + "`" + `"`, []string{"echo", "`"}},
		{"echo a\\\nb", []string{"echo", "ab"}},
		{"echo \"a\\\nb\"", []string{"echo", "ab"}},
		{`echo "" x`, []string{"echo", "", "x"}},
	} {
		got, err := splitCommand(c.in)
		if err != nil {
			t.Errorf("splitCommand(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("splitCommand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, in := range []string{``, `  `, `echo "a`, `echo 'a`, `echo a\`} {
		if got, err := splitCommand(in); err == nil {
			t.Errorf("splitCommand(%q) = %q, want an error", in, got)
		}
	}
}
