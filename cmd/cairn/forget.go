package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/forget"
	"github.com/cairn-backup/cairn/repo/id"
)

// countFlag is a --keep-* count: a number, or -1 or "unlimited" for every
// bucket.
type countFlag struct{ n *int }

func (c countFlag) Set(s string) error {
	if s == "unlimited" {
		*c.n = forget.Unlimited
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a count (a number, or unlimited)", s)
	}
	if v < forget.Unlimited {
		return errors.New("negative counts are not allowed (use -1 or unlimited to keep every bucket)")
	}
	*c.n = v
	return nil
}

func (c countFlag) String() string {
	switch {
	case c.n == nil:
		return "0"
	case *c.n == forget.Unlimited:
		return "unlimited"
	}
	return strconv.Itoa(*c.n)
}

func (c countFlag) Type() string { return "n" }

// forgetGroupJSON is one line of `forget --json`, shaped like restic's:
// the group's key (only the fields grouped by), the kept and removed
// snapshots, and why each kept one is kept. Lists are newest first.
// MessageType is "group", so a script reading every command's JSON lines
// can dispatch on it.
type forgetGroupJSON struct {
	MessageType string             `json:"message_type"`
	Host        *string            `json:"host,omitempty"`
	Source      *string            `json:"source,omitempty"`
	Tags        *[]string          `json:"tags,omitempty"`
	Paths       *[]string          `json:"paths,omitempty"`
	Keep        []snapshotJSON     `json:"keep"`
	Remove      []snapshotJSON     `json:"remove"`
	Reasons     []forgetReasonJSON `json:"reasons"`
	// DryRun: remove lists what would have been removed, as with prune's.
	DryRun bool `json:"dry_run"`
}

type forgetReasonJSON struct {
	Snapshot snapshotJSON    `json:"snapshot"`
	Matches  []string        `json:"matches"`
	Counters forget.Counters `json:"counters"`
}

type forgetOptions struct {
	policy         forget.Policy
	keepTags       []string
	groupBy        string
	filter         filterFlags
	dryRun         bool
	allowRemoveAll bool
	prune          bool
	pruneFlags     pruneFlags
	// removed is what forget removed, or with dryRun would remove: the
	// dry run of --prune counts without it.
	removed []*repo.Snapshot
}

func newForgetCommand(g *globals) *cobra.Command {
	var o forgetOptions
	cmd := &cobra.Command{
		Use:   "forget [SNAPSHOT...]",
		Short: "Remove snapshots according to a retention policy, or by ID",
		Long: `forget removes the snapshots a policy does not keep, with restic's rules,
or (like restic forget ID...) exactly the snapshots named by ID prefix;
--dry-run and --prune apply to both, but IDs and a policy exclude each
other.

Snapshots are split into groups, by host, source and paths unless
--group-by says otherwise (as restic groups by host and paths): snapshots
of /etc and of /home ingested without --source are two series, and so are
the dumps of two databases (--stdin-name) under one source. When the paths
of a source change, its snapshots of the old paths stay a group of their
own, which the policy keeps as it was; forget them by ID, or judge them
with the new ones by --group-by host,source. The policy judges each group
on its own. A snapshot is kept when any rule keeps it, and one snapshot
may count for several rules:

  --keep-last N            the N newest snapshots
  --keep-hourly N          the newest snapshot of each of the N newest hours
  --keep-daily/weekly/monthly/yearly N
                           likewise for days, ISO weeks (Monday to Sunday),
                           months and years, in the time zone each snapshot
                           was taken in (as restic); only periods
                           that have a snapshot count. -1 or unlimited: all.
  --keep-within D          every snapshot less than D before the group's
                           newest, with D like 1y5m7d2h (no week unit: 7d)
  --keep-within-hourly/daily/weekly/monthly/yearly D
                           the newest snapshot of each period within D
  --keep-tag a[,b]         every snapshot with all of these tags
                           (repeatable: any list keeps; '' keeps untagged)

When a counted rule has periods left at the oldest snapshot of a group, the
oldest is kept as well ("oldest daily snapshot").

forget only removes snapshot objects, under a shared lock (a dry run with
--no-lock takes none): the data they
referenced stays in the repository until prune frees it. Without any
--keep-* option it removes nothing. A policy that keeps no snapshot of a
group refuses to run unless --unsafe-allow-remove-all is given.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.prune {
				// Before anything is removed: a bad prune flag found only
				// once forget is done would leave the snapshots gone and
				// their data unpruned.
				if _, err := o.pruneFlags.options(); err != nil {
					return err
				}
			}
			if len(args) > 0 {
				var mixed []string
				cmd.Flags().Visit(func(fl *pflag.Flag) {
					if strings.HasPrefix(fl.Name, "keep-") || fl.Name == "group-by" || fl.Name == "unsafe-allow-remove-all" ||
						fl.Name == "host" || fl.Name == "source" || fl.Name == "tag" || fl.Name == "path" {
						mixed = append(mixed, "--"+fl.Name)
					}
				})
				if len(mixed) > 0 {
					return fmt.Errorf("snapshot IDs and %s exclude each other: forget either the snapshots named or those a policy removes",
						strings.Join(mixed, ", "))
				}
				if err := forgetByID(cmd.Context(), g, &o, args); err != nil || !o.prune {
					return err
				}
				return pruneAfterForget(cmd.Context(), g, &o)
			}
			for _, s := range o.keepTags {
				o.policy.Tags = append(o.policy.Tags, repo.ParseTagList(s))
			}
			if err := o.policy.Validate(); err != nil {
				return err
			}
			by, err := forget.ParseGroupBy(o.groupBy)
			if err != nil {
				return err
			}
			if err := runForget(cmd.Context(), g, &o, by); err != nil || !o.prune {
				return err
			}
			return pruneAfterForget(cmd.Context(), g, &o)
		},
	}
	fl := cmd.Flags()
	p := &o.policy
	for _, c := range []struct {
		n                 *int
		name, short, what string
	}{
		{&p.Last, "keep-last", "l", "snapshots"},
		{&p.Hourly, "keep-hourly", "H", "hourly snapshots"},
		{&p.Daily, "keep-daily", "d", "daily snapshots"},
		{&p.Weekly, "keep-weekly", "w", "weekly snapshots"},
		{&p.Monthly, "keep-monthly", "m", "monthly snapshots"},
		{&p.Yearly, "keep-yearly", "y", "yearly snapshots"},
	} {
		fl.VarP(countFlag{c.n}, c.name, c.short, "keep the last `n` "+c.what+" (-1 or unlimited: all)")
	}
	fl.Var(&p.Within, "keep-within", "keep snapshots less than `duration` (e.g. 1y5m7d2h) before the newest")
	for _, w := range []struct {
		d      *forget.Duration
		period string
	}{{&p.WithinHourly, "hourly"}, {&p.WithinDaily, "daily"}, {&p.WithinWeekly, "weekly"}, {&p.WithinMonthly, "monthly"}, {&p.WithinYearly, "yearly"}} {
		fl.Var(w.d, "keep-within-"+w.period, "keep "+w.period+" snapshots less than `duration` before the newest")
	}
	fl.StringArrayVar(&o.keepTags, "keep-tag", nil, "keep snapshots with all tags of `taglist` (a,b; repeatable; '' keeps untagged)")
	fl.StringVarP(&o.groupBy, "group-by", "g", forget.DefaultGroupBy.String(), "judge snapshots in groups by `fields` (host,source,tags,paths; '' for one group)")
	fl.BoolVarP(&o.dryRun, "dry-run", "n", false, "only print what would be removed")
	fl.BoolVar(&o.allowRemoveAll, "unsafe-allow-remove-all", false, "allow a policy to remove every snapshot of a group")
	fl.BoolVar(&o.prune, "prune", false, "then prune, under the exclusive lock, when a snapshot was removed (with --dry-run: show what prune would free)")
	o.pruneFlags.register(fl)
	o.filter.register(cmd)
	return cmd
}

// openForget opens the repository for forget, under a shared lock, or for
// a dry run, which only reads, as any reader: --no-lock then lets it say
// what it would remove from storage this user cannot write, as restic's
// forget --dry-run --no-lock.
func openForget(ctx context.Context, g *globals, dryRun bool) (*repo.Repository, context.Context, func(), error) {
	if dryRun {
		return g.openReading(ctx, "forget --dry-run")
	}
	r, lock, release, err := g.openLocked(ctx, "forget")
	if err != nil {
		return nil, nil, nil, err
	}
	return r, lock.Context(), release, nil
}

// forgetPlan is the policy's verdict on one group.
type forgetPlan struct {
	key    forget.Key
	result forget.Result
}

func runForget(ctx context.Context, g *globals, o *forgetOptions, by forget.GroupBy) error {
	r, ctx, release, err := openForget(ctx, g, o.dryRun)
	if err != nil {
		return err
	}
	defer release()
	text := !g.json && !g.quiet

	if o.policy.Empty() {
		if text {
			fmt.Fprintln(stdout, "no policy given (--keep-*): no snapshots will be removed")
		}
		return nil
	}

	all, err := r.Snapshots(ctx, g.skipUnreadable)
	if err != nil {
		return err
	}
	flt := o.filter.filter()
	var list []*repo.Snapshot
	for _, sn := range all {
		if flt.Match(sn) {
			list = append(list, sn)
		}
	}

	now := time.Now()
	var plans []forgetPlan
	var refused []string
	var remove []*repo.Snapshot
	for _, grp := range forget.GroupSnapshots(list, by) {
		res := forget.Apply(grp.Snapshots, o.policy, nil, now)
		plans = append(plans, forgetPlan{key: grp.Key, result: res})
		if len(res.Keep) == 0 && len(res.Remove) > 0 && !o.allowRemoveAll {
			refused = append(refused, fmt.Sprintf("%s (%s)", grp.Key, plural(len(res.Remove), "snapshot")))
		}
		remove = append(remove, res.Remove...)
	}

	if text {
		fmt.Fprintf(stdout, "applying policy: %s\n", o.policy)
		if len(plans) == 0 {
			fmt.Fprintln(stdout, "no snapshots to consider")
		}
		for _, pl := range plans {
			printForgetPlan(stdout, pl, "snapshots of "+pl.key.String())
		}
	}
	if g.json {
		for _, pl := range plans {
			printJSON(forgetJSON(pl, o.dryRun))
		}
	}

	if len(refused) > 0 {
		return fmt.Errorf("refusing to remove every snapshot of %s: the policy keeps none of them; nothing was removed (give --unsafe-allow-remove-all to allow it)",
			strings.Join(refused, "; "))
	}
	if len(remove) == 0 {
		if text {
			fmt.Fprintln(stdout, "no snapshots to remove")
		}
		return nil
	}
	o.removed = remove
	return removeSnapshots(ctx, r, remove, o.dryRun, text)
}

// removeSnapshots removes the snapshots in remove, or with dryRun only
// says it would; text prints what it did.
func removeSnapshots(ctx context.Context, r *repo.Repository, remove []*repo.Snapshot, dryRun, text bool) error {
	if dryRun {
		if text {
			fmt.Fprintf(stdout, "would remove %s (dry run: nothing removed)\n", plural(len(remove), "snapshot"))
		}
		return nil
	}
	sids := make([]id.ID, len(remove))
	for i, sn := range remove {
		sids[i] = sn.ID
	}
	if n, err := r.RemoveSnapshots(ctx, sids); err != nil {
		return fmt.Errorf("removed %d of %s, then: %w", n, plural(len(remove), "snapshot"), err)
	}
	if text {
		fmt.Fprintf(stdout, "removed %s; the data only they used stays until prune\n", plural(len(remove), "snapshot"))
	}
	return nil
}

// forgetByID removes exactly the snapshots sels name (ID prefixes, or
// latest), all or none: every selector is resolved before anything goes.
func forgetByID(ctx context.Context, g *globals, o *forgetOptions, sels []string) error {
	r, ctx, release, err := openForget(ctx, g, o.dryRun)
	if err != nil {
		return err
	}
	defer release()
	seen := map[*repo.Snapshot]bool{}
	var remove []*repo.Snapshot
	for _, sel := range sels {
		sn, err := r.FindSnapshot(ctx, sel, repo.Filter{})
		if err != nil {
			return fmt.Errorf("%w; nothing was removed", err)
		}
		if !seen[sn] {
			seen[sn] = true
			remove = append(remove, sn)
		}
	}
	// Newest first, as the policy's lists are.
	sort.SliceStable(remove, func(i, j int) bool { return remove[i].Time.After(remove[j].Time) })
	text := !g.json && !g.quiet
	if text {
		printForgetPlan(stdout, forgetPlan{key: forget.Key{}, result: forget.Result{Remove: remove}}, "snapshots named")
	}
	if g.json {
		printJSON(forgetJSON(forgetPlan{result: forget.Result{Remove: remove}}, o.dryRun))
	}
	o.removed = remove
	return removeSnapshots(ctx, r, remove, o.dryRun, text)
}

// pruneAfterForget runs prune once forget has let go of its shared lock,
// when it removed something (as restic does): a forget --prune run often
// from a timer would otherwise take the exclusive lock, and hold off every
// other host's ingest, each time for nothing.
func pruneAfterForget(ctx context.Context, g *globals, o *forgetOptions) error {
	opt, err := o.pruneFlags.options()
	if err != nil {
		return err
	}
	if len(o.removed) == 0 {
		if !g.json && !g.quiet {
			fmt.Fprintln(stdout, "nothing removed, so no prune (cairn prune prunes anyway)")
		}
		return nil
	}
	opt.DryRun = o.dryRun
	if o.dryRun && len(o.removed) > 0 {
		opt.Forgotten = map[id.ID]bool{}
		for _, sn := range o.removed {
			opt.Forgotten[sn.ID] = true
		}
	}
	return openAndPrune(ctx, g, opt)
}

// plural is "1 snapshot" or "2 snapshots": n and the noun in the right
// form (an "s" added).
func plural[N ~int | ~int32 | ~int64 | ~uint32 | ~uint64](n N, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// printForgetPlan lists a group's kept snapshots with their reasons, then
// the removed ones, oldest first as `snapshots` lists them.
func printForgetPlan(w io.Writer, pl forgetPlan, title string) {
	fmt.Fprintf(w, "\n%s:\n", title)
	row := func(tw io.Writer, sn *repo.Snapshot, reasons []string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", sn.ID.Short(), sn.Time.Local().Format("2006-01-02 15:04:05"),
			sn.Host, sn.Source, strings.Join(sn.Tags, ","))
		if reasons != nil {
			fmt.Fprintf(tw, "\t%s", strings.Join(reasons, ", "))
		}
		fmt.Fprintln(tw)
	}
	keep, remove := pl.result.Keep, pl.result.Remove
	if len(keep) > 0 {
		fmt.Fprintf(w, "keep %s:\n", plural(len(keep), "snapshot"))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTime\tHost\tSource\tTags\tReasons")
		for i := len(keep) - 1; i >= 0; i-- {
			row(tw, keep[i].Snapshot, keep[i].Reasons)
		}
		tw.Flush()
	}
	if len(remove) > 0 {
		fmt.Fprintf(w, "remove %s:\n", plural(len(remove), "snapshot"))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTime\tHost\tSource\tTags")
		for i := len(remove) - 1; i >= 0; i-- {
			row(tw, remove[i], nil)
		}
		tw.Flush()
	}
}

func forgetJSON(pl forgetPlan, dryRun bool) forgetGroupJSON {
	k := pl.key
	j := forgetGroupJSON{MessageType: "group", Keep: []snapshotJSON{}, Remove: []snapshotJSON{}, Reasons: []forgetReasonJSON{}, DryRun: dryRun}
	if k.By.Host {
		j.Host = &k.Host
	}
	if k.By.Source {
		j.Source = &k.Source
	}
	if k.By.Tags {
		j.Tags = &k.Tags
	}
	if k.By.Paths {
		j.Paths = &k.Paths
	} else if k.Stream != "" {
		j.Paths = &[]string{k.Stream}
	}
	for _, kept := range pl.result.Keep {
		sj := toJSON(kept.Snapshot)
		j.Keep = append(j.Keep, sj)
		j.Reasons = append(j.Reasons, forgetReasonJSON{Snapshot: sj, Matches: kept.Reasons, Counters: kept.Counters})
	}
	for _, sn := range pl.result.Remove {
		j.Remove = append(j.Remove, toJSON(sn))
	}
	return j
}
