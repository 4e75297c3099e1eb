package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/prune"
)

// pruneFlags are the flags of prune that `forget --prune` shares.
type pruneFlags struct {
	maxUnused        string
	grace            time.Duration
	allowNoSnapshots bool
}

func (f *pruneFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.maxUnused, "max-unused", fmt.Sprintf("%g%%", prune.DefaultMaxUnused),
		"repack the least used packs until at most `percent` of the stored blob bytes are unused (0%: every partly used pack, 100% or unlimited: none)")
	fs.DurationVar(&f.grace, "grace-period", prune.DefaultGracePeriod,
		"leave data younger than `duration`, and data marked for deletion less than that ago, for a later prune: an ingest still running may need it (more than 30m)")
	fs.BoolVar(&f.allowNoSnapshots, "unsafe-allow-no-snapshots", false,
		"prune a repository that has no snapshot at all, deleting all its data")
}

func (f *pruneFlags) options() (prune.Options, error) {
	opt := prune.DefaultOptions()
	s := strings.TrimSpace(f.maxUnused)
	if s == "unlimited" {
		// restic's word for repacking no partly used pack: 100% here.
		s = "100%"
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	// !(v >= 0): NaN too, which no comparison with 100 refuses.
	if err != nil || !(v >= 0) || v > 100 {
		return opt, fmt.Errorf("--max-unused %q: want a percentage from 0%% to 100%%, or unlimited (the same as 100%%; cairn takes no size in bytes)", f.maxUnused)
	}
	if !strings.HasSuffix(s, "%") && v != 0 {
		// restic reads a bare number as bytes: its --max-unused 100
		// repacks nearly everything, where 100% repacks nothing.
		return opt, fmt.Errorf("--max-unused %q: write the percentage with its %% sign (%s%%): restic reads a bare number as bytes, which cairn does not take", f.maxUnused, s)
	}
	opt.MaxUnused = v
	if f.grace <= repo.StaleAfter {
		return opt, fmt.Errorf("--grace-period %s: must be longer than a stale lock's %s", f.grace, repo.StaleAfter)
	}
	opt.GracePeriod = f.grace
	opt.AllowNoSnapshots = f.allowNoSnapshots
	return opt, nil
}

func newPruneCommand(g *globals) *cobra.Command {
	f := &pruneFlags{}
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete data no snapshot uses and repack mostly unused packs",
		Long: `Delete the data that no snapshot uses any more, and rewrite the packs
that are mostly unused.

Prune takes the exclusive lock (a dry run only a shared one, and none
with --no-lock). It deletes
in two phases: data no snapshot uses is first marked for deletion (and
what is still used in mostly unused packs copied out), and deleted by a
prune at least the grace period (default 24h) later, if no snapshot
committed meanwhile uses it. Ingests do not rely on marked data, so even
an ingest whose lock failed (a stopped process, a clock that is off)
loses nothing to prune. Data younger than the grace period is left alone.
New copies of repacked blobs and their index are stored before anything
is deleted.

Prune refuses, deleting nothing, when the repository looks damaged or
incomplete: a listing or read fails, a snapshot or tree cannot be read, data
a snapshot uses is missing from the index, or there are packs but no index
or no snapshot. The message says what to run (usually cairn check, then
cairn repair index).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt, err := f.options()
			if err != nil {
				return err
			}
			opt.DryRun = dryRun
			return openAndPrune(cmd.Context(), g, opt)
		},
	}
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "only show what would be deleted and repacked")
	f.register(cmd.Flags())
	return cmd
}

// openAndPrune opens the repository, takes the exclusive lock (a shared
// one for a dry run) and prunes.
func openAndPrune(ctx context.Context, g *globals, opt prune.Options) error {
	if opt.DryRun {
		// A dry run only reads, so it is opened as any reader: under a
		// shared lock, or with --no-lock none, as restic's prune
		// --dry-run --no-lock: on storage this user cannot write it
		// still says what a prune would free.
		r, ctx, release, err := g.openReading(ctx, "prune --dry-run")
		if err != nil {
			return err
		}
		defer release()
		_, err = runPrune(ctx, g, r, nil, opt)
		return err
	}
	r, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	lock, err := g.lock(ctx, r, true, "prune")
	if err != nil {
		return err
	}
	defer g.unlock(lock)
	_, err = runPrune(lock.Context(), g, r, lock, opt)
	return err
}

// runPrune prunes r under lock and prints what was (or would be) freed.
func runPrune(ctx context.Context, g *globals, r *repo.Repository, lock *repo.Lock, opt prune.Options) (prune.Stats, error) {
	if !opt.DryRun {
		opt.Lock = lock
	}
	opt.Log = g.notice
	st, err := prune.Run(ctx, r, opt)
	if err != nil {
		return st, err
	}
	printPruneStats(g, st, opt)
	return st, nil
}

func printPruneStats(g *globals, st prune.Stats, opt prune.Options) {
	if g.json {
		printJSON(struct {
			MessageType string `json:"message_type"`
			prune.Stats
		}{"summary", st})
		return
	}
	if g.quiet {
		return
	}
	fmt.Fprintf(stdout, "repository:  %s, %s (%s), %s\n", nOf(st.Snapshots, "snapshot"), nOf(st.Packs, "pack"), formatBytes(st.PackBytes), nOf(st.IndexSegments, "index segment"))
	fmt.Fprintf(stdout, "used:        %s (%s); unused in indexed packs: %s\n", nOf(st.UsedBlobs, "blob"), formatBytes(st.UsedBytes), formatBytes(st.UnusedBytes))
	del, rep, cp, mark, freed := "deleted:", "repacked:", "copied", "marked:", "freed:"
	if st.DryRun {
		del, rep, cp, mark, freed = "to delete:", "to repack:", "to copy", "to mark:", "would free:"
	}
	fmt.Fprintf(stdout, "%-12s %s (%s), %s (%s)\n", del, nOf(st.UnreferencedPacks, "unreferenced pack"), formatBytes(st.UnreferencedBytes),
		nOf(st.UnusedPacks, "unused pack"), formatBytes(st.UnusedPackBytes))
	fmt.Fprintf(stdout, "%-12s %s (%s), %s (%s) %s\n", rep, nOf(st.RepackPacks, "pack"), formatBytes(st.RepackPackBytes), nOf(st.RepackBlobs, "used blob"), formatBytes(st.RepackBlobBytes), cp)
	if st.MarkedPacks > 0 {
		fmt.Fprintf(stdout, "%-12s %s (%s) for deletion by a prune from %s on\n", mark, nOf(st.MarkedPacks, "pack"), formatBytes(st.MarkedBytes),
			time.Now().Add(opt.GracePeriod).Format("2006-01-02 15:04"))
	}
	if st.PendingPacks > 0 {
		fmt.Fprintf(stdout, "waiting:     %s (%s) marked for deletion less than the grace period (%s) ago, for a later prune\n", nOf(st.PendingPacks, "pack"), formatBytes(st.PendingBytes), opt.GracePeriod)
	}
	if st.GracePacks > 0 {
		fmt.Fprintf(stdout, "kept:        %s (%s) younger than the grace period (%s), for a later prune\n", nOf(st.GracePacks, "pack"), formatBytes(st.GraceBytes), opt.GracePeriod)
	}
	fmt.Fprintf(stdout, "%-12s %s: %s deleted, %s written\n", freed, signedBytes(st.BytesFreed), nOf(st.PacksDeleted, "pack"), formatBytes(st.BytesWritten))
	fmt.Fprintf(stdout, "unused left: %s\n", formatBytes(st.UnusedAfter))
}

// signedBytes is formatBytes for a figure that may be negative.
func signedBytes(n int64) string {
	if n < 0 {
		return "-" + formatBytes(-n)
	}
	return formatBytes(n)
}

// nOf is "1 pack", "2 packs".
func nOf(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
