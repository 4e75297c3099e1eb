package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
)

func newUnlockCommand(g *globals) *cobra.Command {
	var removeAll bool
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Remove stale locks (--remove-all: every lock)",
		Long: fmt.Sprintf(`Remove the stale lock objects from the repository and list what was removed.

Every command holds a lock while it works: a shared one (ingest, ls,
restore, check...) or an exclusive one (prune, repair), refreshed every %s.
A lock is stale, and no longer stops anything, when

  - it has not been refreshed for %s: its holder has been gone (killed,
    crashed, its machine off) or cut off from the repository for that long,
    and a holder that cannot refresh its lock gives up well before; or
  - its holder ran on this host (in this PID namespace) and is no longer
    running.

A lock attempt removes the stale locks it finds; unlock does it without
taking one. Locks of other hosts whose holder died become stale only %s
after their last refresh: the message of a command that fails with exit 11
says when.

With --remove-all every lock is removed, stale or not: only for an operator
who knows that no cairn process uses the repository, since removing a live
lock lets prune run under a writer (whose next refresh writes its lock
again).`, repo.LockRefresh, repo.StaleAfter, repo.StaleAfter),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			removed, kept, err := r.RemoveLocks(ctx, removeAll)
			live := 0
			for _, e := range removed {
				if e.Stale == "" {
					live++
				}
			}
			if live > 0 && !g.json {
				fmt.Fprintf(os.Stderr, "cairn: warning: removed %s that may still be held: make sure that no cairn process uses the repository\n", plural(live, "live lock"))
			}
			if g.json {
				out := unlockJSON{MessageType: "unlock", Removed: []lockJSON{}, Kept: []lockJSON{}}
				for _, e := range removed {
					out.Removed = append(out.Removed, toLockJSON(e))
				}
				for _, e := range kept {
					out.Kept = append(out.Kept, toLockJSON(e))
				}
				if live > 0 {
					out.Warning = fmt.Sprintf("removed %s that may still be held", plural(live, "live lock"))
				}
				printJSON(out)
				return err
			}
			if g.quiet {
				return err
			}
			for _, e := range removed {
				why := e.Stale
				if why == "" {
					why = "live, --remove-all"
				}
				fmt.Fprintf(stdout, "removed %s: %s (%s)\n", e.Name, e.Info, why)
			}
			switch {
			case err != nil:
				// Stopped at a lock it could not remove: that lock and
				// those after it are neither removed nor known kept.
			case len(removed) == 0 && len(kept) == 0:
				fmt.Fprintln(stdout, "no locks")
			case len(removed) == 0:
				fmt.Fprintln(stdout, "no stale locks")
			}
			for _, e := range kept {
				fmt.Fprintf(stdout, "kept live %s: %s, stale after %s unless refreshed\n", e.Name, e.Info, e.Info.StaleAt().UTC().Format("2006-01-02 15:04 UTC"))
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&removeAll, "remove-all", false, "remove every lock, live ones too (only if you know that no cairn process uses the repository)")
	return cmd
}

// unlockJSON is the one line of `unlock --json`.
type unlockJSON struct {
	MessageType string     `json:"message_type"`
	Removed     []lockJSON `json:"removed"`
	Kept        []lockJSON `json:"kept"`
	Warning     string     `json:"warning,omitempty"`
}

// lockJSON is one lock object.
type lockJSON struct {
	Name       string    `json:"name"`
	Exclusive  bool      `json:"exclusive"`
	Host       string    `json:"host,omitempty"`
	PID        int       `json:"pid,omitempty"`
	User       string    `json:"user,omitempty"`
	Operation  string    `json:"operation,omitempty"`
	Time       time.Time `json:"time"`
	Refreshed  time.Time `json:"refreshed"`
	StaleAt    time.Time `json:"stale_at"`
	Stale      string    `json:"stale,omitempty"` // why, for a stale one
	Unreadable bool      `json:"unreadable,omitempty"`
}

func toLockJSON(e repo.LockEntry) lockJSON {
	li := e.Info
	return lockJSON{Name: e.Name, Exclusive: li.Exclusive, Host: li.Host, PID: li.PID, User: li.User, Operation: li.Operation,
		Time: li.Time, Refreshed: li.Refreshed, StaleAt: li.StaleAt(), Stale: e.Stale, Unreadable: li.Unreadable}
}
