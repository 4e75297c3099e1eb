package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagPlaceholders: every flag that takes a value names what it takes
// in --help ("--host host", "--overwrite mode"), never pflag's Go type
// ("--host string"), and a flag that two commands share names its value
// alike (ingest said "--host string" where every other command says
// "--host host").
func TestFlagPlaceholders(t *testing.T) {
	root := newRootCommand(&globals{})
	seen := map[string]string{} // flag name -> placeholder and where
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(f)
			switch name {
			case "string", "strings", "stringArray", "stringSlice":
				t.Errorf("%s --%s: help shows the Go type %q instead of what the flag takes: put the word in `backquotes` in its usage", c.CommandPath(), f.Name, name)
			}
			if prev, ok := seen[f.Name]; ok && name != "" && prev != name && f.Name != "path" && f.Name != "target" && f.Name != "tag" {
				t.Errorf("%s --%s takes %q where another command's --%s takes %q", c.CommandPath(), f.Name, name, f.Name, prev)
			} else if !ok {
				seen[f.Name] = name
			}
		})
		for _, s := range c.Commands() {
			visit(s)
		}
	}
	visit(root)
}

// TestHelpNamesEnvironment: every CAIRN_ variable cairn reads is in the
// Environment list of "cairn help" (CAIRN_NEW_PASSWORD_FILE, which key
// add and key passwd read, was missing), but for the profiling and
// testing ones below.
func TestHelpNamesEnvironment(t *testing.T) {
	notForUsers := map[string]bool{"CAIRN_CPUPROFILE": true, "CAIRN_MEMPROFILE": true, "CAIRN_MUTEXPROFILE": true,
		"CAIRN_TRACE": true}
	long := newRootCommand(&globals{}).Long
	files, _ := filepath.Glob("*.go")
	daemon, _ := filepath.Glob("daemon/*.go")
	seen := 0
	for _, name := range append(files, daemon...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(CAIRN_[A-Z_]+)"`).FindAllStringSubmatch(string(b), -1) {
			seen++
			if !notForUsers[m[1]] && !regexp.MustCompile(`\b`+m[1]+`\b`).MatchString(long) {
				t.Errorf("%s reads %s, which cairn help does not name under Environment", name, m[1])
			}
		}
	}
	if seen < 10 {
		t.Fatalf("found only %d CAIRN_ variables in the sources", seen)
	}
}
