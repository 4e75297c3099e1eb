package main

import (
	"context"
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
			open, err := g.opener(ctx, func(o *repo.Options) {
				o.PrivateIndex = true
				o.Log = log.Logf
			})
			if err != nil {
				return err
			}
			// The rest of the opening (the key, the local index, its
			// copy: minutes on a first run against a big repository, or
			// when another process holds the shared index) runs with
			// the TUI up, saying what it does; q and ctrl+c quit.
			opt := tui.Options{NoLock: g.noLock, Log: log}
			err = tui.RunOpening(ctx, func(ctx context.Context, step func(string, int, int)) (*repo.Repository, string, error) {
				r, err := open(ctx, step)
				if err != nil || len(args) == 0 {
					return r, "", err
				}
				// Resolved here as every command resolves it (latest with
				// a path is the latest holding it).
				step("finding snapshot "+args[0], 0, 0)
				sn, p, err := g.findSnapshot(ctx, r, args[0], filterFlags{}, "")
				if err != nil {
					r.Close()
					return nil, "", err
				}
				sel := sn.ID.String()
				if _, raw := splitSelector(args[0]); raw != "" {
					// No path: the tree opens in the folder the
					// snapshot holds, as enter on the list opens it.
					sel += ":" + p
				}
				return r, sel, nil
			}, opt)
			if errors.Is(err, tui.ErrInterrupted) {
				// ctrl+c, a key in the TUI's raw mode: 130 and
				// "cairn: interrupted", as a SIGINT to it or to any
				// other command.
				return &exitError{code: exitInterrupted, err: err}
			}
			return err
		},
	}
}
