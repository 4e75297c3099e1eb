package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeCommandLines: every command line the READMEs show in a code
// block ("cairn ingest ... --exclude-caches") names a cairn command that
// exists and only flags that command has, so that the examples a new user
// copies keep running as the flags change.
func TestReadmeCommandLines(t *testing.T) {
	checked := 0
	for _, name := range []string{"../../README.md", "daemon/systemd/README.md"} {
		checked += checkCommandLines(t, name)
	}
	if checked < 30 {
		t.Fatalf("checked only %d command lines", checked)
	}
}

// invocation finds cairn run by a line: at its start, after a pipe, or by
// its installed path (a unit's ExecStart=).
var invocation = regexp.MustCompile(`(?:^\s*|\| |(?:^|=)/usr/local/bin/)(cairn )`)

func checkCommandLines(t *testing.T, file string) (checked int) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(&globals{})
	inBlock := false
	flagRe := regexp.MustCompile(`(?:^|[\s\[|])(--?[a-zA-Z][a-zA-Z0-9-]*)`)
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		// the cairn invocation of the line, after a pipe if any, before
		// its comment and before a pipe to another program
		loc := invocation.FindStringSubmatchIndex(line)
		if loc == nil {
			continue
		}
		cmdline := line[loc[2]:]
		if c := strings.Index(cmdline, "   #"); c >= 0 {
			cmdline = cmdline[:c]
		}
		if c := strings.Index(cmdline, " # "); c >= 0 {
			cmdline = cmdline[:c]
		}
		if c := strings.Index(cmdline, " | "); c >= 0 {
			cmdline = cmdline[:c]
		}
		if c := strings.Index(cmdline, " -- "); c >= 0 {
			cmdline = cmdline[:c]
		}
		words := strings.Fields(cmdline)[1:]
		// skip global flags and their values to find the command
		var path []string
		for j := 0; j < len(words); j++ {
			w := words[j]
			if strings.HasPrefix(w, "-") {
				if f := root.PersistentFlags().Lookup(strings.TrimLeft(w, "-")); f != nil && f.Value.Type() != "bool" && !strings.Contains(w, "=") {
					j++
				} else if len(w) == 2 && root.PersistentFlags().ShorthandLookup(w[1:]) != nil && root.PersistentFlags().ShorthandLookup(w[1:]).Value.Type() != "bool" {
					j++
				}
				continue
			}
			path = append(path, w)
		}
		cmd, _, err := root.Find(path)
		if err != nil || cmd == root {
			t.Errorf("%s:%d: %q names no cairn command", file, i+1, cmdline)
			continue
		}
		checked++
		for _, m := range flagRe.FindAllStringSubmatch(cmdline, -1) {
			name := m[1]
			var ok bool
			if strings.HasPrefix(name, "--") {
				ok = cmd.Flags().Lookup(name[2:]) != nil || cmd.InheritedFlags().Lookup(name[2:]) != nil
			} else {
				ok = len(name) == 2 && (cmd.Flags().ShorthandLookup(name[1:]) != nil || cmd.InheritedFlags().ShorthandLookup(name[1:]) != nil)
			}
			if !ok {
				t.Errorf("%s:%d: %s has no flag %s (%q)", file, i+1, cmd.CommandPath(), name, cmdline)
			}
		}
	}
	return checked
}
