package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// noArgs refuses arguments to a command that takes none, naming the
// command and its usage (cobra's own NoArgs calls an argument an "unknown
// command", which misleads: cairn check takes no subcommands either).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, only flags, but was given %s (usage: %s; see %s --help)",
			cmd.CommandPath(), quoteArgs(args), cmd.UseLine(), cmd.CommandPath())
	}
	return nil
}

// exactArgs wants exactly n arguments, and says which ones (from the
// command's Use line) when they are missing or too many, rather than
// cobra's bare "accepts 1 arg(s), received 0".
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		want := strings.Join(strings.Fields(cmd.Use)[1:], " ")
		if len(args) < n {
			return fmt.Errorf("%s needs %s (usage: %s)", cmd.CommandPath(), want, cmd.UseLine())
		}
		return fmt.Errorf("%s takes only %s, but was given %d arguments: %s (usage: %s)",
			cmd.CommandPath(), want, len(args), quoteArgs(args), cmd.UseLine())
	}
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// refuseUnknownSubcommands makes every command that only groups others
// (repair, key) fail on a subcommand it does not have, as the root does,
// instead of printing its help and exiting 0: "cairn repair indx" in a
// script must not pass for a repair that ran.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c.HasParent() && c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		// Its usage is "cairn repair [command]", not "cairn repair [flags]".
		c.DisableFlagsInUseLine = true
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			names := []string{}
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			msg := fmt.Sprintf("unknown command %q for %q (it has: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
			}
			return errors.New(msg)
		}
	}
}

// newListCommand stands for restic's list (the IDs of one kind of
// object), which cairn does not have: typed by habit, it points to the
// cairn command for that kind rather than to ls, which cobra suggests.
func newListCommand() *cobra.Command {
	ways := map[string]string{
		"snapshots": "use cairn snapshots (--json gives each snapshot's full id)",
		"keys":      "use cairn key list",
		"locks":     "cairn unlock removes the stale ones and lists the live ones it keeps",
		"index":     "cairn cat index ID shows a segment; cairn check verifies them all",
		"packs":     "cairn cat pack ID shows a pack; cairn check verifies them all",
		"blobs":     "cairn stats counts them; cairn cat pack ID lists those of a pack",
	}
	return &cobra.Command{
		Use:    "list TYPE",
		Short:  "restic's list: points to the cairn command for TYPE",
		Hidden: true,
		Args:   cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if way, ok := ways[args[0]]; ok {
					return fmt.Errorf("cairn has no list command (restic's list %s): %s", args[0], way)
				}
			}
			return errors.New("cairn has no list command (restic's list): use cairn snapshots, cairn key list, or cairn cat TYPE ID")
		},
	}
}
