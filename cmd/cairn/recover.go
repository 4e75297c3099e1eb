package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo/repair"
)

func newRecoverCommand(g *globals) *cobra.Command {
	var dryRun bool
	var host string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Save a snapshot of the folders no snapshot refers to any more",
		Long: `Find the trees (folders) that the index holds but no snapshot refers to, and
save one snapshot holding the topmost of them, each as a folder named by its
short ID under ` + repair.LostPath + `. They are what a snapshot forgotten by mistake
left behind until a prune deletes it, and what an ingest killed before it
saved its snapshot had stored. Browse or mount the new snapshot, restore what
you need, then forget it.

The snapshot has the source "` + repair.LostSource + `" and the tag "` + repair.LostTag + `", so no
retention policy of a real source counts it. For each folder the output says
how many files it holds and how many of them lack data (a prune removed it):
those, and folders whose tree cannot be read, are left out of the snapshot
(as repair snapshots would), so that check passes and prune runs. --dry-run
only says what it found. Running it again finds nothing new when nothing was
left out: the recovered snapshot refers to all of it. It takes the exclusive
lock, so that no running ingest has its unfinished folders taken.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, lock, release, err := g.openForRepair(ctx, "recover")
			if err != nil {
				return err
			}
			defer release()
			res, err := repair.Recover(lock.Context(), r, repair.RecoverOptions{DryRun: dryRun, Host: host, Version: version,
				Warn: func(err error) { g.warnf("%v", err) }})
			if err != nil {
				if cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				return err
			}
			printRecover(g, res, dryRun)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "say what is lost; save nothing")
	cmd.Flags().StringVar(&host, "host", "", "`host` the snapshot records (default: this machine's name)")
	return cmd
}

func printRecover(g *globals, res *repair.RecoverResult, dryRun bool) {
	if g.json {
		for _, lt := range res.Roots {
			printJSON(map[string]any{"message_type": "lost_tree", "tree": lt.ID.String(), "name": lt.Name, "entries": lt.Entries,
				"files": lt.Files, "bytes": lt.Bytes, "incomplete": lt.Incomplete})
		}
		m := map[string]any{"message_type": "summary", "snapshots": res.Snapshots, "trees": res.Trees, "unreferenced": res.Unreferenced,
			"lost_trees": len(res.Roots)}
		if res.Snapshot != nil {
			m["snapshot_id"], m["short_id"] = res.Snapshot.ID.String(), res.Snapshot.ID.Short()
		}
		if dryRun {
			m["dry_run"] = true
		}
		printJSON(m)
		return
	}
	if g.quiet {
		// Print only errors: the warnings went to stderr already.
		return
	}
	if len(res.Roots) == 0 {
		switch {
		case res.Unreferenced == 0:
			fmt.Fprintf(stdout, "nothing lost: every folder in the index belongs to one of the %s\n", plural(res.Snapshots, "snapshot"))
		default:
			fmt.Fprintf(stdout, "nothing new to recover: the %s no snapshot refers to are empty, unreadable, inside one another, or recovered already\n",
				plural(res.Unreferenced, "folder"))
		}
		return
	}
	fmt.Fprintf(stdout, "%s no snapshot refers to (of %s in the index); at the top of them:\n",
		plural(res.Unreferenced, "folder"), plural(res.Trees, "folder"))
	for _, lt := range res.Roots {
		line := fmt.Sprintf("  %s/%s  %s, %s, %s", repair.LostPath, lt.Name, entries(lt.Entries), plural(lt.Files, "file"), formatBytes(int64(lt.Bytes)))
		if lt.Incomplete > 0 {
			line += fmt.Sprintf("; %d incomplete (their data is gone)", lt.Incomplete)
		}
		fmt.Fprintln(stdout, line)
	}
	switch {
	case dryRun:
		fmt.Fprintln(stdout, "dry run: no snapshot saved")
	case res.Snapshot != nil:
		fmt.Fprintf(stdout, "snapshot %s saved (source %s, tag %s): restore what you need from it, then forget it\n",
			res.Snapshot.ID.Short(), repair.LostSource, repair.LostTag)
	}
}

func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
