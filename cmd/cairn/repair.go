package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newRepairCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Repair a damaged repository: index, snapshots",
		Long: `Repair what cairn check reports, in the order it says:

  cairn repair index       rebuild the index from the packs themselves
  cairn repair snapshots   rewrite snapshots that lost data without it

Between the two, an ingest of the same paths stores again every lost file
that is still on disk, and the old snapshots that need it become whole.
Both take the exclusive lock.`,
	}
	cmd.AddCommand(newRepairIndexCommand(g), newRepairSnapshotsCommand(g))
	return cmd
}

// openForRepair opens the repository under the exclusive lock.
func (g *globals) openForRepair(ctx context.Context, operation string) (*repo.Repository, *repo.Lock, func(), error) {
	r, err := g.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	lock, err := g.lock(ctx, r, true, operation)
	if err != nil {
		r.Close()
		return nil, nil, nil, err
	}
	return r, lock, func() { g.unlock(lock); r.Close() }, nil
}

func newRepairIndexCommand(g *globals) *cobra.Command {
	var readData bool
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Rebuild the index segments from the packs",
		Long: `Rebuild the index from the stored packs: every pack's header is read (with
--read-data, the whole pack, and every blob verified), and new index segments
name every intact pack, including packs no segment named: those are read
whole and verified first, like every pack with --read-data, since a pack
an earlier repair left out as damaged is one of them. The old segments
are removed once the new ones supersede them, so an interruption at any
point leaves a valid index.

Packs that the index named but that are not stored are dropped, unless this
host's metadata cache keeps a copy that verifies (tree packs of an S3
repository, which restores read from there): those are stored again. A damaged
pack is left out and left in place for prune to remove; its blobs that still
verify are copied into new packs first. The blobs that are lost are counted:
an ingest stores again those still on disk, and cairn repair snapshots
drops the rest from the snapshots.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, lock, release, err := g.openForRepair(ctx, "repair index")
			if err != nil {
				return err
			}
			defer release()
			opt := repair.IndexOptions{ReadData: readData}
			var line liveLine
			if !g.json && !g.quiet && isTerminal(os.Stderr) {
				start := time.Now()
				opt.Progress = func(done, total int) {
					line.show(fmt.Sprintf("[%s] examined %d of %d packs", formatDuration(time.Since(start)), done, total))
				}
			}
			res, err := repair.Index(lock.Context(), r, opt)
			line.done()
			if res != nil {
				printRepairIndex(g, res, !res.Committed)
			}
			if err != nil && cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "read every pack whole and leave out blobs that do not verify")
	return cmd
}

// printRepairIndex prints what repair index did. When it failed before the
// new index was written whole (failed), the old index is still in force:
// the text then leaves out what the new index would have changed (packs
// dropped or now indexed, blobs lost).
func printRepairIndex(g *globals, res *repair.IndexResult, failed bool) {
	if g.json {
		for _, name := range res.Restored {
			printJSON(map[string]any{"message_type": "pack", "action": "stored again from this host's copy", "pack": name, "reason": "missing"})
		}
		if failed {
			// The old index is still in force: nothing was dropped,
			// adopted or lost.
			printJSON(map[string]any{"message_type": "summary", "committed": false, "segments_written": len(res.Written),
				"segments_removed": len(res.Removed)})
			return
		}
		for _, p := range res.Missing {
			printJSON(map[string]any{"message_type": "pack", "action": "dropped", "pack": p.Name, "reason": "missing", "blobs": p.Blobs})
		}
		for _, p := range res.Damaged {
			printJSON(map[string]any{"message_type": "pack", "action": "left for prune", "pack": p.Name, "reason": p.Err.Error(), "blobs": p.Blobs, "salvaged": p.Salvaged, "indexed_before": !p.Unindexed})
		}
		for _, name := range res.Adopted {
			printJSON(map[string]any{"message_type": "pack", "action": "adopted", "pack": name})
		}
		for _, name := range res.Salvage {
			printJSON(map[string]any{"message_type": "pack", "action": "written", "pack": name})
		}
		unreadable := append([]string{}, res.Unreadable...) // [] rather than null
		printJSON(map[string]any{"message_type": "summary", "committed": true, "packs": res.Packs, "blobs": res.Blobs, "segments_written": len(res.Written),
			"segments_removed": len(res.Removed), "segments_unreadable": unreadable, "lost_blobs": len(res.Lost)})
		return
	}
	for _, name := range res.Restored {
		fmt.Fprintf(stdout, "pack %s: missing; stored again from this host's metadata cache, whose copy verified\n", name)
	}
	if failed {
		if !g.quiet {
			fmt.Fprintf(stdout, "wrote %s and removed %d old before failing: the old index is still in force\n", plural(len(res.Written), "index segment"), len(res.Removed))
		}
		return
	}
	for _, p := range res.Missing {
		fmt.Fprintf(stdout, "pack %s: missing; dropped from the index (%s)\n", p.Name, plural(p.Blobs, "blob"))
	}
	for _, p := range res.Damaged {
		what := "damaged"
		if p.Unindexed {
			what = "named by no index segment, and damaged"
		}
		fmt.Fprintf(stdout, "pack %s: %s (%v); left out, for prune to remove; %d of %s copied into new packs\n", p.Name, what, p.Err, p.Salvaged, plural(p.Blobs, "blob"))
	}
	if g.quiet {
		return
	}
	for _, name := range res.Unreadable {
		fmt.Fprintf(stdout, "index segment %s: unreadable; replaced\n", name)
	}
	for _, name := range res.Adopted {
		fmt.Fprintf(stdout, "pack %s: named by no index segment; now indexed\n", name)
	}
	for _, name := range res.Salvage {
		fmt.Fprintf(stdout, "pack %s: new, holding blobs copied out of damaged packs\n", name)
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %s) and removed %d old\n", plural(len(res.Written), "index segment"), plural(res.Packs, "pack"), plural(res.Blobs, "blob"), len(res.Removed))
	if n := len(res.Lost); n > 0 {
		fmt.Fprintf(stdout, "%s lost: `cairn ingest` of the same paths stores again those still on disk; then run `cairn check` and `cairn repair snapshots`\n", plural(n, "blob"))
	} else {
		fmt.Fprintln(stdout, "no blob was lost")
	}
}

func newRepairSnapshotsCommand(g *globals) *cobra.Command {
	var readData, forget bool
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "Rewrite snapshots that lost data, listing what they lose",
		Long: `Rewrite every snapshot that lost data into a new snapshot without it: a
file whose data cannot all be read is dropped, and so is a folder whose tree
cannot be read; each is listed. The new snapshot keeps the original's time,
host, source and paths, and carries the tag "repaired" and the original's
ID. The originals are kept until they are forgotten; --forget removes them
at once, together with snapshot objects nothing can be read from. A snapshot
whose stored object cannot be read, but of which this host's local index
keeps a copy (what listings and restores read), is stored again from that
copy, as a repaired snapshot. A snapshot
repaired before is checked again: when an ingest has since stored again
what it lost, it is whole, and --forget keeps it and removes its repaired
copies instead.

Without --read-data a file is lost when the index lacks one of its blobs or
the pack holding it is missing or too short; --read-data also reads every
blob the snapshots need. Run cairn repair index first.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			r, lock, release, err := g.openForRepair(ctx, "repair snapshots")
			if err != nil {
				return err
			}
			defer release()
			res, err := repair.Snapshots(lock.Context(), r, repair.SnapshotsOptions{ReadData: readData, Forget: forget})
			if res != nil {
				printRepairSnapshots(g, res, forget)
			}
			if err != nil && cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "read every data blob the snapshots need")
	cmd.Flags().BoolVar(&forget, "forget", false, "remove the originals of repaired snapshots, and snapshots nothing can be read from")
	return cmd
}

func printRepairSnapshots(g *globals, res *repair.SnapshotsResult, forget bool) {
	repaired, pending, forgotten, stale := 0, 0, 0, 0
	for _, rep := range res.Reports {
		if rep.Repaired != nil {
			repaired++
		}
		switch {
		case rep.Whole && rep.StaleForgotten:
			forgotten += len(rep.Stale)
		case rep.Whole:
			stale += len(rep.Stale)
		case rep.Forgotten:
			forgotten++
		default:
			pending++
		}
		if g.json {
			m := map[string]any{"message_type": "snapshot", "snapshot_id": rep.ID.String(), "forgotten": rep.Forgotten}
			if rep.Err != nil {
				m["error"] = rep.Err.Error()
			}
			if rep.FromCache {
				m["from_local_index"] = true
			}
			var lost []map[string]any
			for _, l := range rep.Lost {
				lost = append(lost, map[string]any{"path": l.Path, "kind": l.Kind.String(), "reason": l.Reason})
			}
			if lost != nil {
				m["lost"] = lost
			}
			if rep.Repaired != nil {
				m["repaired_id"] = rep.Repaired.ID.String()
			}
			if !rep.RepairedBefore.IsZero() {
				m["repaired_before_id"] = rep.RepairedBefore.String()
			}
			if rep.Whole {
				m["whole_again"] = true
				var ids []string
				for _, sid := range rep.Stale {
					ids = append(ids, sid.String())
				}
				m["stale_repaired_ids"] = ids
				m["stale_forgotten"] = rep.StaleForgotten
			}
			printJSON(m)
			continue
		}
		head := "snapshot " + rep.ID.Short()
		if sn := rep.Original; sn != nil {
			head += fmt.Sprintf(" of %s (%s, %s)", sn.Time.Local().Format("2006-01-02 15:04:05"), sn.Host, sn.Source)
		}
		switch {
		case rep.Err != nil && !rep.FromCache:
			fmt.Fprintf(stdout, "%s: cannot be read (%v); nothing to repair\n", head, rep.Err)
		case rep.Whole && rep.StaleForgotten:
			fmt.Fprintf(stdout, "%s: whole again; kept\n", head)
			for _, sid := range rep.Stale {
				fmt.Fprintf(stdout, "  snapshot %s (its repaired copy) forgotten\n", sid.Short())
			}
		case rep.Whole:
			var ids []string
			for _, sid := range rep.Stale {
				ids = append(ids, "snapshot "+sid.Short())
			}
			what := "its repaired copy " + ids[0] + " is"
			if len(ids) > 1 {
				what = "its repaired copies " + strings.Join(ids, ", ") + " are"
			}
			fmt.Fprintf(stdout, "%s: whole again; %s no longer needed\n", head, what)
		case !rep.RepairedBefore.IsZero():
			fmt.Fprintf(stdout, "%s: already repaired as snapshot %s\n", head, rep.RepairedBefore.Short())
		default:
			if rep.FromCache {
				fmt.Fprintf(stdout, "%s: its stored object cannot be read (%v); this host's local index keeps a copy\n", head, rep.Err)
			}
			if len(rep.Lost) > 0 || !rep.FromCache {
				fmt.Fprintf(stdout, "%s loses %s:\n", head, plural(len(rep.Lost), "path"))
			}
			for _, l := range rep.Lost {
				kind := "file"
				if l.Kind == tree.KindDir {
					kind = "folder"
				}
				fmt.Fprintf(stdout, "  %s (%s: %s)\n", printablePath(l.Path), kind, l.Reason)
			}
			if rep.Repaired != nil {
				fmt.Fprintf(stdout, "  saved as snapshot %s, tagged %s\n", rep.Repaired.ID.Short(), repair.RepairedTag)
			} else {
				fmt.Fprintln(stdout, "  nothing of it can be read; no repaired snapshot")
			}
		}
		if rep.Forgotten {
			fmt.Fprintf(stdout, "  snapshot %s forgotten\n", rep.ID.Short())
		}
	}
	if g.json {
		printJSON(map[string]any{"message_type": "summary", "snapshots": res.Checked, "repaired": repaired, "originals_kept": pending,
			"stale_copies_kept": stale, "forgotten": forgotten})
		return
	}
	switch {
	case len(res.Reports) == 0:
		fmt.Fprintf(stdout, "all %s intact\n", plural(res.Checked, "snapshot")+map[bool]string{true: " is", false: " are"}[res.Checked == 1])
	case forget:
		fmt.Fprintf(stdout, "repaired %s of %d; forgot %d\n", plural(repaired, "snapshot"), res.Checked, forgotten)
	case pending > 0 && stale > 0:
		fmt.Fprintf(stdout, "repaired %s of %d; the originals are kept until forgotten, and so are %s no longer needed: `cairn repair snapshots --forget` removes them, and the snapshots nothing can be read from\n",
			plural(repaired, "snapshot"), res.Checked, repairedCopies(stale))
	case pending > 0:
		fmt.Fprintf(stdout, "repaired %s of %d; the originals are kept until forgotten: `cairn repair snapshots --forget` removes them, and the snapshots nothing can be read from\n",
			plural(repaired, "snapshot"), res.Checked)
	case stale > 0:
		fmt.Fprintf(stdout, "repaired %s of %d; %s no longer needed: `cairn repair snapshots --forget` removes them and keeps the snapshots that are whole again\n",
			plural(repaired, "snapshot"), res.Checked, repairedCopies(stale))
	default:
		fmt.Fprintf(stdout, "repaired %s of %d\n", plural(repaired, "snapshot"), res.Checked)
	}
}

func repairedCopies(n int) string {
	if n == 1 {
		return "1 repaired copy"
	}
	return fmt.Sprintf("%d repaired copies", n)
}
