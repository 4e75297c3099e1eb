package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
)

func newStatusCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's sources: last run, outcome, duration, added bytes, next run",
		Long: `Ask the running daemon (cairn daemon) how each configured source last ran
and when it runs next, and how the last copy of each source into each of its
copy_to destinations went: when, its outcome, the snapshots it copied, the
data it added, and when one last succeeded. Without a daemon it says so and
exits 1. It needs no password; one that is set (CAIRN_PASSWORD_FILE...) is
checked all the same.

--json prints the daemon's whole status as one JSON object.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c, _, err := g.requireDaemon(ctx)
			if err != nil {
				return err
			}
			st, err := c.Status(ctx)
			if err != nil {
				return daemonError(err)
			}
			if g.json {
				printJSON(st)
				return nil
			}
			printStatus(st)
			return nil
		},
	}
}

func printStatus(st *daemon.Status) {
	fmt.Fprintf(stdout, "daemon %s (pid %d), host %s, repository %s\n", st.Version, st.PID, st.Host, st.Repository)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Source\tLast run\tOutcome\tDuration\tAdded\tSnapshot\tNext run")
	for _, s := range append(st.Sources, st.Jobs...) {
		last, outcome, dur, added, snap := "never", "-", "-", "-", "-"
		if r := s.LastRun; r != nil {
			last = r.Start.Local().Format("2006-01-02 15:04:05")
			outcome, dur = r.Outcome, formatDuration(time.Duration(r.Duration*float64(time.Second)))
			if r.SnapshotID != "" {
				added, snap = formatBytes(r.AddedBytes), r.SnapshotID[:8]
			} else if r.Skipped {
				snap = "unchanged"
			}
		}
		switch {
		case s.Running:
			outcome = "running"
		case s.Queued:
			outcome += " (queued)"
		}
		next := "on request"
		if s.NextRun != nil {
			next = s.NextRun.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, last, outcome, dur, added, snap, next)
	}
	tw.Flush()
	printCopies(st.Sources)
	for _, in := range st.Ingests {
		what := "ingest of " + in.What
		if in.Source != "" {
			what += " (source " + in.Source + ")"
		}
		fmt.Fprintf(stdout, "%s over the socket: running since %s (uid %d)\n", what, in.Start.Local().Format("2006-01-02 15:04:05"), in.UID)
	}
	for _, s := range append(st.Sources, st.Jobs...) {
		if r := s.LastRun; r != nil && r.Error != "" {
			fmt.Fprintf(stdout, "%s: %s\n", s.Name, r.Error)
		}
		for _, c := range s.Copies {
			if c.Error != "" {
				fmt.Fprintf(stdout, "%s: copy to %s: %s\n", s.Name, c.Destination, c.Error)
			}
		}
	}
}

// printCopies shows the last copy of each source into each of its copy
// destinations, when there is one.
func printCopies(sources []daemon.SourceStatus) {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	head := false
	for _, s := range sources {
		for _, c := range s.Copies {
			if !head {
				fmt.Fprintln(tw, "Source\tCopy to\tLast copy\tOutcome\tSnapshots\tAdded\tLast success")
				head = true
			}
			success := "never"
			if c.LastSuccess != nil {
				success = c.LastSuccess.Local().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.Name, c.Destination, c.Start.Local().Format("2006-01-02 15:04:05"),
				c.Outcome, c.Copied, formatBytes(c.AddedBytes), success)
		}
	}
	tw.Flush()
}
