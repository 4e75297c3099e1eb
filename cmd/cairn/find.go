package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/search"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newFindCommand(g *globals) *cobra.Command {
	var f filterFlags
	var sels []string
	var ignoreCase bool
	var under string
	cmd := &cobra.Command{
		Use:   "find PATTERN",
		Short: "Find files by name across snapshots",
		Long: `Find the entries whose name matches PATTERN (a glob: *, ?, [...]) in every
snapshot (or those chosen with --snapshot, --host, --source, --tag). A pattern
holding "/" is matched against the whole path instead, "**" standing for any
number of folders; it matches at any depth unless it starts with "/".

Each matching path is printed once, as "cairn ls" prints it, followed by the
snapshots that hold it, oldest first: ID, time, host · source, and the
entry's size there (--json adds its type and mtime).
The path can be given to "cairn versions", "cairn restore SNAP:PATH" and
"cairn diff SNAP:PATH".`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, _, release, err := g.openReading(ctx, "find")
			if err != nil {
				return err
			}
			defer release()
			snaps, err := selectSnapshots(ctx, g, r, sels, f)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(stdout)
			defer w.Flush()
			if under != "" {
				if under, err = pathInSnapshots(under, snaps); err != nil {
					return err
				}
			}
			opt := search.FindOptions{IgnoreCase: ignoreCase, Path: under}
			matches, lost := 0, 0
			opt.Lost = func(path string, in []*repo.Snapshot, err error) {
				lost++
				ids := make([]string, len(in))
				for i, sn := range in {
					ids[i] = sn.ID.Short()
				}
				msg := fmt.Sprintf("folder contents lost in snapshot %s, not searched: %v", strings.Join(ids, ", "), err)
				if errors.Is(err, search.ErrEntriesLeftOut) {
					msg = fmt.Sprintf("in snapshot %s: %v", strings.Join(ids, ", "), err)
				}
				if g.json {
					printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": msg}, "during": "find", "item": path})
					return
				}
				fmt.Fprintf(os.Stderr, "cairn: %s: %s\n", printablePath(path), msg)
			}
			err = search.Find(ctx, r, snaps, args[0], opt, func(res search.Result) error {
				if err := ctx.Err(); err != nil {
					return err // interrupted, or stdout closed
				}
				matches++
				if g.json {
					j := matchJSON{MessageType: "match", Path: res.Path, PathBytes: pathBytes(res.Path), Snapshots: make([]hitJSON, len(res.Hits))}
					for i, h := range res.Hits {
						j.Snapshots[i] = hitJSON{ID: h.Snapshot.ID.String(), ShortID: h.Snapshot.ID.Short(), Time: h.Snapshot.Time,
							Host: h.Snapshot.Host, Source: h.Snapshot.Source, Type: h.Node.Kind.String(), Size: h.Node.StatSize(), MTime: time.Unix(0, h.Node.MTime)}
					}
					printJSONTo(w, j)
					return nil
				}
				fmt.Fprintf(w, "%s\n", printablePath(res.Path))
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				for _, h := range res.Hits {
					fmt.Fprintf(tw, "  %s\t%s\t%s · %s\t%s\n", h.Snapshot.ID.Short(), h.Snapshot.Time.Local().Format("2006-01-02 15:04:05"),
						printablePath(h.Snapshot.Host), printablePath(h.Snapshot.Source), entrySize(h.Node))
				}
				return tw.Flush()
			})
			if err == nil && matches == 0 {
				where := ""
				if under != "" {
					where = " below " + under
				}
				g.notice("cairn: no match for %s%s in %s", args[0], where, plural(len(snaps), "snapshot"))
			}
			if err == nil && lost > 0 {
				err = fmt.Errorf("%s could not be searched (named above; cairn check tells what is lost)", plural(lost, "folder"))
			}
			return err
		},
	}
	cmd.Flags().StringArrayVar(&sels, "snapshot", nil, "search only `snapshot` (ID prefix or latest; repeatable)")
	cmd.Flags().BoolVarP(&ignoreCase, "ignore-case", "i", false, "match names regardless of case")
	cmd.Flags().StringVar(&under, "path", "", "search only below `folder` (a path as cairn ls prints it; a relative one is taken from the current folder)")
	f.register(cmd) // after --path, which here is where to search
	return cmd
}

// matchJSON is one line of `find --json`: a path and the snapshots that
// hold it.
type matchJSON struct {
	MessageType string    `json:"message_type"`
	Path        string    `json:"path"`
	PathBytes   string    `json:"path_bytes,omitempty"` // as ls --json gives it
	Snapshots   []hitJSON `json:"snapshots"`
}

type hitJSON struct {
	ID      string    `json:"id"`
	ShortID string    `json:"short_id"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Source  string    `json:"source"`
	Type    string    `json:"type"`
	Size    uint64    `json:"size"`
	MTime   time.Time `json:"mtime"`
}

// entrySize is a file's size in text output, or its kind for the others.
func entrySize(n *tree.Node) string {
	if n.Kind == tree.KindFile {
		return formatBytes(int64(n.Size))
	}
	return n.Kind.String()
}

// selectSnapshots picks the snapshots the --snapshot selectors name (all
// when none), narrowed by the filter, oldest first.
func selectSnapshots(ctx context.Context, g *globals, r *repo.Repository, sels []string, f filterFlags) ([]*repo.Snapshot, error) {
	flt := f.filter()
	if len(sels) == 0 {
		all, err := r.Snapshots(ctx, g.skipUnreadable)
		if err != nil {
			return nil, err
		}
		var out []*repo.Snapshot
		for _, sn := range all {
			if flt.Match(sn) {
				out = append(out, sn)
			}
		}
		return out, nil
	}
	seen := map[*repo.Snapshot]bool{}
	var out []*repo.Snapshot
	for _, sel := range sels {
		sn, err := r.FindSnapshot(ctx, sel, flt)
		if err != nil {
			return nil, err
		}
		if !seen[sn] && flt.Match(sn) {
			seen[sn] = true
			out = append(out, sn)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}
