package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
)

func newStatsCommand(g *globals) *cobra.Command {
	var f filterFlags
	cmd := &cobra.Command{
		Use:   "stats [SNAPSHOT...]",
		Short: "Sizes of snapshots and of the repository: original, compressed, deduplicated",
		Long: `For each snapshot (all of them, or those given, narrowed by --host,
--source and --tag) and for the whole repository:

  original      the size of the files backed up (hardlinks counted once,
                holes of sparse files included): what a restore takes,
                restic's stats --mode restore-size; the Size of cairn
                snapshots counts each hardlink's name
  stored        what the snapshot's distinct blobs take compressed and
                encrypted in the repository
  unique        what only this snapshot uses: forgetting it alone leaves
                that much unused, for prune to free

and for the repository the stored size of all used data, the data no
snapshot uses, and every object's total. Prune frees unused data once it
is older than the grace period, and leaves some in packs it does not
rewrite (up to --max-unused, 5% by default; --max-unused 0% frees all). A folder whose
contents cannot be read (a damaged or missing tree), or a snapshot that
cannot be read, is named, left out of the figures, and makes stats exit 1
after printing them.`,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			ctx := cmd.Context()
			r, _, release, err := g.openReading(ctx, "stats")
			if err != nil {
				return err
			}
			defer release()
			// A snapshot left out makes the figures wrong (the data only it
			// uses counts as unused): named even with -q, and exit 1.
			unreadable := 0
			all, err := r.Snapshots(ctx, func(err error) {
				unreadable++
				g.skipUnreadable(err)
			})
			if err != nil {
				return err
			}
			var want []*repo.Snapshot
			if len(args) == 0 {
				for _, sn := range all {
					if f.filter().Match(sn) {
						want = append(want, sn)
					}
				}
			}
			given := map[string]bool{}
			for _, a := range args {
				sn, err := r.FindSnapshot(ctx, a, f.filter())
				if err != nil {
					return err
				}
				// A snapshot named twice (by two prefixes, or as latest
				// and by ID) is one snapshot: one row, counted once.
				if !given[sn.ID.String()] {
					given[sn.ID.String()] = true
					want = append(want, sn)
				}
			}
			lost := 0
			per, total, err := r.Stats(ctx, want, all, func(sn *repo.Snapshot, p string, err error) {
				lost++
				if p == "" {
					p = "/"
				}
				g.warnf("snapshot %s: %s: folder contents lost, left out of the figures: %v", sn.ID.Short(), p, err)
			})
			if err != nil {
				return err
			}
			if lost > 0 || unreadable > 0 {
				var left []string
				if unreadable > 0 {
					left = append(left, plural(unreadable, "snapshot"))
				}
				if lost > 0 {
					left = append(left, "the contents of "+plural(lost, "folder"))
				}
				defer func() {
					if err == nil {
						err = fmt.Errorf("the figures leave out %s that could not be read (named above; cairn check tells what is lost)", strings.Join(left, " and "))
					}
				}()
			}
			if g.json {
				printJSON(map[string]any{"snapshots": per, "repository": total})
				return nil
			}
			byID := map[string]*repo.Snapshot{}
			for _, sn := range want {
				byID[sn.ID.String()] = sn
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "ID\tTime\tFiles\tOriginal\tStored\tUnique\tRatio\t")
			for _, s := range per {
				sn := byID[s.ID.String()]
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", s.ID.Short(), sn.Time.Local().Format("2006-01-02 15:04:05"),
					s.Files, formatBytes(s.OriginalBytes), formatBytes(s.StoredBytes), formatBytes(s.UniqueBytes), ratio(s.OriginalBytes, s.StoredBytes))
			}
			tw.Flush()
			fmt.Fprintf(stdout, "\nrepository: %s of %s in all; %s stored in %s (original/stored %s: compression and deduplication)\n",
				plural(total.Snapshots, "snapshot"), formatBytes(total.OriginalBytes), formatBytes(total.StoredBytes), plural(total.Blobs, "blob"),
				ratio(total.OriginalBytes, total.StoredBytes))
			fmt.Fprintf(stdout, "compression alone: %s; unused by any snapshot: %s; %s, %s on storage\n",
				ratio(total.RawBytes, total.StoredBytes), formatBytes(total.UnusedBytes), plural(total.Packs, "pack"), formatBytes(total.TotalBytes))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// ratio prints a/b as "3.21x", or "-" when b is 0.
func ratio(a, b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}
