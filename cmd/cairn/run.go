package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
)

func newRunCommand(g *globals) *cobra.Command {
	var noWait bool
	cmd := &cobra.Command{
		Use:   "run SOURCE",
		Short: "Run a source of the daemon's config now",
		Long: `Ask the running daemon to run one of its configured sources now, with its
hooks and retention, and wait for it. The exit code is the run's, as ingest's:
0 success, 3 snapshot saved but some files unreadable, 1 failure. Each file
the run cannot read is reported on stderr as it goes ("cannot read PATH: why";
with --json, an error object per file), as cairn ingest reports them. So is
each file saved with a time a snapshot cannot hold, clamped to 1677-2262
("warning: PATH: ..."; with --json, a warning object), which leaves the exit
code 0.

A run asked for while the source is running is queued once and starts when
the running one ends. --no-wait only queues the run.

A caller other than root and the daemon's own user must give the repository
password (CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND or CAIRN_PASSWORD); a
wrong one exits 12. Text output adds ", retention removed N snapshots" when
the source's retention removed some.

A source with copy_to is copied into those repositories after its run saved a
snapshot, and cairn run waits for that too: a line per copy destination says
what it copied, or, on stderr, why it failed. A failed copy does not change
the exit code, which is the run's; the next run tries it again.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, _, err := g.requireDaemon(ctx)
			if err != nil {
				return err
			}
			// Each path the run cannot read, and each it saved with a
			// time clamped, as it goes: the same lines (or --json
			// objects) on stderr as cairn ingest's.
			out := newIngestOutput(g)
			res, err := c.Run(ctx, args[0], !noWait, out.warn, out.notice)
			if err != nil {
				return daemonError(err)
			}
			if res == nil {
				if g.json {
					printJSON(map[string]any{"message_type": "queued", "source": args[0], "queued": true})
				} else if !g.quiet {
					fmt.Fprintf(stdout, "source %s queued\n", args[0])
				}
				return nil
			}
			if g.json {
				// The run's result is its summary, as ingest's.
				printJSON(struct {
					MessageType string `json:"message_type"`
					*daemon.RunResult
				}{"summary", res})
			} else if !g.quiet && res.SnapshotID != "" {
				retention := ""
				if res.Removed > 0 {
					retention = ", retention removed " + plural(res.Removed, "snapshot")
				}
				fmt.Fprintf(stdout, "source %s: %s in %s, %s added, snapshot %s saved%s\n", res.Source, res.Outcome,
					formatDuration(time.Duration(res.Duration*float64(time.Second))), formatBytes(res.AddedBytes), res.SnapshotID[:8], retention)
			} else if !g.quiet && res.Skipped {
				fmt.Fprintf(stdout, "source %s: %s in %s, nothing changed: no snapshot written\n", res.Source, res.Outcome,
					formatDuration(time.Duration(res.Duration*float64(time.Second))))
			}
			for _, c := range res.Copies {
				switch {
				case c.Outcome != daemon.OutcomeSuccess:
					g.warnf("source %s: copy to %s failed (%s copied; the next run tries again): %s", res.Source, c.Destination, plural(c.Copied, "snapshot"), c.Error)
				case !g.json && !g.quiet:
					fmt.Fprintf(stdout, "source %s: copy to %s: %s copied in %s, %s added\n", res.Source, c.Destination, plural(c.Copied, "snapshot"),
						formatDuration(time.Duration(c.Duration*float64(time.Second))), formatBytes(c.AddedBytes))
				}
			}
			if res.ExitCode != exitOK {
				return &exitError{res.ExitCode, fmt.Errorf("source %s: %w", res.Source, errors.New(res.Error))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "only queue the run")
	return cmd
}
