package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/search"
)

func newVersionsCommand(g *globals) *cobra.Command {
	var f filterFlags
	cmd := &cobra.Command{
		Use:   "versions PATH",
		Short: "List the distinct versions of a file across snapshots",
		Long: `List the distinct versions of the entry at PATH (as "cairn ls" and
"cairn find" print it; a relative PATH is taken from the current folder,
as ingest takes it) through the snapshots (narrowed by --host, --source,
--tag), oldest first.

Each host and source is followed on its own, as its own history: Host and
Source say whose version a line is, "new" is the first time that host and
source holds PATH, "modified" a change from its version before. Snapshots
holding the same content as the version before them (of the same host and
source) are folded into it: Snapshots counts them. A change of metadata
alone makes no new version. The histories of several hosts or sources come
interleaved in time order; narrow them with --host and --source.

Exits 1 when no snapshot holds PATH, and when PATH cannot be looked up in
some snapshot (a damaged tree on the way), after listing the versions found
in the others.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, _, release, err := g.openReading(ctx, "versions")
			if err != nil {
				return err
			}
			defer release()
			snaps, err := selectSnapshots(ctx, g, r, nil, f)
			if err != nil {
				return err
			}
			p, err := pathInSnapshots(args[0], snaps)
			if err != nil {
				return err
			}
			lost := 0
			vs, err := search.VersionsAround(ctx, r, snaps, p, func(sn *repo.Snapshot, err error) {
				lost++
				if g.json {
					printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": err.Error()}, "during": "versions", "item": p})
				} else {
					fmt.Fprintf(os.Stderr, "cairn: %v\n", err)
				}
			})
			if err != nil {
				return err
			}
			// Versions found are listed; the snapshots in which the path
			// could not be looked up still make the command fail.
			incomplete := func(err error) error {
				if err == nil && lost > 0 {
					err = fmt.Errorf("%s could not be looked up in %s (named above): versions may be missing", p, plural(lost, "snapshot"))
				}
				return err
			}
			if len(vs) == 0 {
				if lost > 0 {
					return incomplete(nil)
				}
				if len(snaps) == 0 {
					return fmt.Errorf("no snapshot%s: %w", f.filter().Describe(), repo.ErrNotFound)
				}
				return fmt.Errorf("%s is in none of %s%s: %w", printablePath(p), plural(len(snaps), "snapshot"), f.filter().Describe(), repo.ErrNotFound)
			}
			if g.json {
				for _, v := range vs {
					printJSON(versionJSON{MessageType: "version", Path: p, PathBytes: pathBytes(p), ID: v.Snapshot.ID.String(), ShortID: v.Snapshot.ID.Short(), Time: v.Snapshot.Time,
						Host: v.Snapshot.Host, Source: v.Snapshot.Source, Type: v.Node.Kind.String(), Size: v.Node.StatSize(), MTime: time.Unix(0, v.Node.MTime), Change: v.Change,
						Snapshots: v.Count, LastID: v.Last.ID.String()})
				}
				return incomplete(nil)
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "Time\tID\tHost\tSource\tSize\tChange\tSnapshots")
			for _, v := range vs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", v.Snapshot.Time.Local().Format("2006-01-02 15:04:05"), v.Snapshot.ID.Short(),
					printablePath(v.Snapshot.Host), printablePath(v.Snapshot.Source), entrySize(v.Node), v.Change, v.Count)
			}
			return incomplete(tw.Flush())
		},
	}
	f.register(cmd)
	return cmd
}

// versionJSON is one line of `versions --json`.
type versionJSON struct {
	MessageType string    `json:"message_type"`
	Path        string    `json:"path"`
	PathBytes   string    `json:"path_bytes,omitempty"` // as ls --json gives it
	ID          string    `json:"id"`
	ShortID     string    `json:"short_id"`
	Time        time.Time `json:"time"`
	Host        string    `json:"host"`
	Source      string    `json:"source"`
	Type        string    `json:"type"`
	Size        uint64    `json:"size"`
	MTime       time.Time `json:"mtime"`
	Change      string    `json:"change"`
	Snapshots   int       `json:"snapshots"`
	LastID      string    `json:"last_id"`
}
