package main

import (
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
