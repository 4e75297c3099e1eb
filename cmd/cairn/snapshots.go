package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
)

// filterFlags are restic's snapshot filters, with cairn's --source: each
// flag is repeatable, a snapshot passes with any of the hosts (sources)
// given, with all the tags of any one --tag (a comma-separated list, ""
// for untagged snapshots), and with every --path among its paths.
type filterFlags struct {
	hosts, sources, tags, paths []string
}

func (f *filterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.hosts, "host", nil, "only snapshots of `host` (repeatable: any of them)")
	fl.StringArrayVar(&f.sources, "source", nil, "only snapshots of `source` (repeatable: any of them)")
	fl.StringArrayVar(&f.tags, "tag", nil, "only snapshots with every tag of the comma-separated `list`; '' for untagged ones (repeatable: any list)")
	if fl.Lookup("path") == nil { // find's --path is where to search
		fl.StringArrayVar(&f.paths, "path", nil, "only snapshots that recorded `path` (repeatable: all of them)")
	}
}

func (f *filterFlags) filter() repo.Filter {
	flt := repo.Filter{Hosts: f.hosts, Sources: f.sources}
	for _, t := range f.tags {
		flt.Tags = append(flt.Tags, repo.ParseTagList(t))
	}
	for _, p := range f.paths {
		flt.Paths = append(flt.Paths, filepath.Clean(p))
	}
	return flt
}

// snapshotJSON is the shape scripts read from `snapshots --json`.
type snapshotJSON struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Hostname string    `json:"hostname"` // the host under restic's name, which scripts read
	Source   string    `json:"source"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
	Tree     string    `json:"tree"`
	Parent   string    `json:"parent,omitempty"`
	Original string    `json:"original,omitempty"` // the snapshot this one was rewritten from (tag, repair)
	// CopiedFrom is the snapshot of another repository this one is a copy of.
	CopiedFrom string `json:"copied_from,omitempty"`
	Username   string `json:"username,omitempty"`
	UID        uint32 `json:"uid"`
	GID        uint32 `json:"gid"`
	// Excludes and IExcludes are the ingest's patterns: what they match
	// was never backed up, and restore --delete keeps it.
	Excludes  []string     `json:"excludes,omitempty"`
	IExcludes []string     `json:"iexcludes,omitempty"`
	Summary   *summaryJSON `json:"summary,omitempty"`
}

// summaryJSON is a snapshot's summary as --json prints it: the stored
// fields, and under restic's names (since 0.17) those it names otherwise,
// which scripts written for restic read.
type summaryJSON struct {
	*repo.Summary
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
	FilesUnmodified     int64     `json:"files_unmodified"`
	DirsUnmodified      int64     `json:"dirs_unmodified"`
	TotalFilesProcessed int64     `json:"total_files_processed"`
	TotalBytesProcessed int64     `json:"total_bytes_processed"`
}

func toSummaryJSON(s *repo.Summary) *summaryJSON {
	if s == nil {
		return nil
	}
	return &summaryJSON{Summary: s, BackupStart: s.Start, BackupEnd: s.End, FilesUnmodified: s.FilesUnchanged,
		DirsUnmodified: s.DirsUnchanged, TotalFilesProcessed: s.TotalFiles, TotalBytesProcessed: s.TotalBytes}
}

func toJSON(sn *repo.Snapshot) snapshotJSON {
	j := snapshotJSON{ID: sn.ID.String(), ShortID: sn.ID.Short(), Time: sn.Time, Host: sn.Host, Hostname: sn.Host, Source: sn.Source,
		Paths: sn.Paths, Tags: sn.Tags, Tree: sn.Tree.String(), Username: sn.Username, UID: sn.UID, GID: sn.GID,
		Excludes: sn.Excludes, IExcludes: sn.IExcludes, Summary: toSummaryJSON(sn.Summary)}
	if sn.Parent != nil {
		j.Parent = sn.Parent.String()
	}
	if sn.Original != nil {
		j.Original = sn.Original.String()
	}
	if sn.CopiedFrom != nil {
		j.CopiedFrom = sn.CopiedFrom.String()
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if j.Paths == nil {
		j.Paths = []string{}
	}
	return j
}

func newSnapshotsCommand(g *globals) *cobra.Command {
	var f filterFlags
	var latest int
	var last bool
	cmd := &cobra.Command{
		Use:   "snapshots [SNAPSHOT...]",
		Short: "List snapshots, oldest first",
		Long: `List snapshots, oldest first: all of them, or those given (ID prefixes, or
latest), narrowed by the filter flags.

Size is what the ingest processed (total_bytes of the JSON summary), as in
restic's snapshots: the size of every file name, so a file with three
hardlinks counts three times, and the holes of sparse files count. The
size a restore takes, each hardlinked file counted once, is the original
size of cairn stats.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if latest < 0 {
				return fmt.Errorf("--latest %d: give a number of snapshots", latest)
			}
			if last && latest == 0 {
				latest = 1
			}
			all, err := listSnapshots(cmd.Context(), g)
			if err != nil {
				return err
			}
			flt := f.filter()
			var list []*repo.Snapshot
			if len(args) == 0 {
				for _, sn := range all {
					if flt.Match(sn) {
						list = append(list, sn)
					}
				}
			} else {
				for _, a := range args {
					sn, err := repo.SelectSnapshot(all, a, flt)
					if err != nil {
						return err
					}
					if flt.Match(sn) && !slices.Contains(list, sn) {
						list = append(list, sn)
					}
				}
				slices.SortStableFunc(list, func(a, b *repo.Snapshot) int { return a.Time.Compare(b.Time) })
			}
			if latest > 0 {
				list = newestOfEach(list, latest)
			}
			if g.json {
				out := make([]snapshotJSON, 0, len(list))
				for _, sn := range list {
					out = append(out, toJSON(sn))
				}
				b, err := json.Marshal(out)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, string(b))
				return nil
			}
			if len(list) == 0 {
				// No table of nothing: with -q nothing at all, as
				// restic prints.
				if !g.quiet {
					fmt.Fprintln(stdout, "no snapshots")
				}
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTime\tHost\tSource\tTags\tSize\tPaths")
			for _, sn := range list {
				size := ""
				if sn.Summary != nil {
					size = formatBytes(sn.Summary.TotalBytes)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sn.ID.Short(), sn.Time.Local().Format("2006-01-02 15:04:05"), printablePath(sn.Host), printablePath(sn.Source),
					printableList(sn.Tags, ","), size, printableList(sn.Paths, " "))
			}
			tw.Flush()
			if !g.quiet {
				fmt.Fprintln(stdout, plural(len(list), "snapshot"))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&latest, "latest", 0, "only the newest `n` snapshots of each host and source")
	// restic's --last, deprecated there for --latest 1 but still taken.
	cmd.Flags().BoolVar(&last, "last", false, "the same as --latest 1 (restic's older flag)")
	cmd.Flags().MarkHidden("last")
	return cmd
}

// newestOfEach keeps the newest n snapshots of each host and source in
// list (oldest first), in order.
func newestOfEach(list []*repo.Snapshot, n int) []*repo.Snapshot {
	kept := map[[2]string]int{}
	var out []*repo.Snapshot
	for i := len(list) - 1; i >= 0; i-- {
		k := [2]string{list[i].Host, list[i].Source}
		if kept[k] < n {
			kept[k]++
			out = append(out, list[i])
		}
	}
	slices.Reverse(out)
	return out
}

// listSnapshots lists every snapshot, oldest first, through the daemon
// when one serves the repository, else from the repository itself;
// either way a snapshot that cannot be read is skipped with a message.
func listSnapshots(ctx context.Context, g *globals) ([]*repo.Snapshot, error) {
	c, err := g.daemonClient(ctx, false)
	if err != nil {
		return nil, err
	}
	if c != nil {
		all, warnings, err := c.Snapshots(ctx)
		if err != nil {
			return nil, daemonError(err)
		}
		for _, w := range warnings {
			g.skipUnreadable(errors.New(w))
		}
		return all, nil
	}
	// Listing snapshots needs their catalogue only: a cold cache (a new
	// machine after a disaster, a CI job) does not fetch every index
	// segment first.
	r, _, release, err := g.openReading(ctx, "snapshots", func(o *repo.Options) { o.CatalogueOnly = true })
	if err != nil {
		return nil, g.explainFallback(err)
	}
	defer release()
	return r.Snapshots(ctx, g.skipUnreadable)
}

// printableList joins the items with sep, each quoted when it would garble
// a terminal line (printablePath).
func printableList(items []string, sep string) string {
	q := make([]string, len(items))
	for i, it := range items {
		q[i] = printablePath(it)
	}
	return strings.Join(q, sep)
}
