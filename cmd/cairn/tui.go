package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/tui"
)

func newTUICommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tui [SNAPSHOT[:PATH]]",
		Short: "Browse snapshots, search, diff and restore in a terminal UI",
		Long: `Browse the repository in a terminal UI: every snapshot grouped by host and
source, their trees with previews, the versions of a file, search across
snapshots, diffs between snapshots or against the live filesystem, and
restores of marked files with a progress bar. Press ? for the keys.

SNAPSHOT ("latest" or an ID prefix, optionally with :PATH) opens that
snapshot's tree at once.`,
		Args: oneSelector(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
				return errors.New("cairn tui needs a terminal")
			}
			ctx := cmd.Context()
			// A copy of the local index, as a mount has: a browser left
			// open for hours must not hold the shared one, without which
			// a nightly ingest reads and hashes every file again.
			// The repository's notices while the TUI runs are shown in
			// it, not written over its screen.
			log := &tui.Logger{Else: func(msg string) { g.notice("%s", msg) }}
			r, err := g.open(ctx, func(o *repo.Options) {
				o.PrivateIndex = true
				o.Log = log.Logf
			})
			if err != nil {
				return err
			}
			defer r.Close()
			opt := tui.Options{NoLock: g.noLock, Log: log}
			if len(args) == 1 {
				// Resolved here as every command resolves it (latest with
				// a path is the latest holding it).
				sn, p, err := g.findSnapshot(ctx, r, args[0], filterFlags{}, "")
				if err != nil {
					return err
				}
				opt.Snapshot = sn.ID.String()
				if _, raw := splitSelector(args[0]); raw != "" {
					// No path: the tree opens in the folder the
					// snapshot holds, as enter on the list opens it.
					opt.Snapshot += ":" + p
				}
			}
			return tui.Run(ctx, r, opt)
		},
	}
}
