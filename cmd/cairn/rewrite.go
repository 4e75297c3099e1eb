package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo/rewrite"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newRewriteCommand(g *globals) *cobra.Command {
	var f filterFlags
	var excludes, excludeFiles, iexcludes, iexcludeFiles []string
	var forgetOld, dryRun bool
	cmd := &cobra.Command{
		Use:   "rewrite [--exclude PATTERN]... [--forget] [--dry-run] [SNAPSHOT...]",
		Short: "Remove files from snapshots already stored",
		Long: `Save copies of snapshots without the paths the exclude patterns match, as
restic's rewrite does: for a secret or a huge file backed up by mistake.
Without SNAPSHOT (ID prefixes, or latest), every snapshot the filter flags
select is rewritten.

Patterns work as ingest's --exclude: they match the absolute path an entry
had when it was ingested, and one that matches a folder removes everything
in it. As in ingest, the paths a snapshot recorded (given to ingest) are
taken whole: they and the folders above them are never removed.

A snapshot where something matches is saved anew: the same time, host,
source, paths and tags, "original" naming the snapshot it was rewritten
from, totals counted again. The old snapshot stays, and the new one is
tagged "rewrite", unless --forget removes the old one once the new one is
saved. Snapshots where nothing matches are left alone. The removed data
stays in the repository until every snapshot holding it is forgotten and
a prune frees it (cairn forget ID --prune).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ex, err := readPatterns("--exclude-file", excludes, excludeFiles)
			if err != nil {
				return err
			}
			iex, err := readPatterns("--iexclude-file", iexcludes, iexcludeFiles)
			if err != nil {
				return err
			}
			if len(ex)+len(iex) == 0 {
				return errors.New("nothing to do: give --exclude, --iexclude, --exclude-file or --iexclude-file")
			}
			r, lock, release, err := g.openLocked(ctx, "rewrite")
			if err != nil {
				return err
			}
			defer release()
			ctx = lock.Context()
			snaps, err := selectSnapshots(ctx, g, r, args, f)
			if err != nil {
				return err
			}
			text := !g.json && !g.quiet
			changed, unchanged, forgotten := 0, 0, 0
			spared := map[string]bool{}
			report := func(res *rewrite.Result) {
				for _, p := range res.Spared {
					if !spared[p] {
						spared[p] = true
						g.warnf("%s matches an exclude pattern but was given to ingest, which takes such a path whole: kept (forget the snapshots to drop it)", p)
					}
				}
				old := res.Old
				if res.New == nil {
					unchanged++
					if text {
						fmt.Fprintf(stdout, "snapshot %s of %s at %s: nothing to exclude, unchanged\n", old.ID.Short(), pathList(old.Paths), old.Time.Local().Format("2006-01-02 15:04:05"))
					}
					return
				}
				changed++
				if res.Forgotten {
					forgotten++
				}
				entries, files, bytes := res.Totals()
				if g.json {
					m := map[string]any{"message_type": "changed_snapshot", "old_snapshot_id": old.ID.String(), "dry_run": dryRun,
						"excluded": removedJSON(res.Removed), "entries_removed": entries, "files_removed": files, "bytes_removed": bytes,
						"forgotten": res.Forgotten}
					if !dryRun {
						m["new_snapshot_id"] = res.New.ID.String()
					}
					printJSON(m)
					return
				}
				if !text {
					return
				}
				fmt.Fprintf(stdout, "snapshot %s of %s at %s\n", old.ID.Short(), pathList(old.Paths), old.Time.Local().Format("2006-01-02 15:04:05"))
				for _, rm := range res.Removed {
					suffix := ""
					if rm.Kind == tree.KindDir {
						suffix = "/"
					}
					fmt.Fprintf(stdout, "  excluding %s%s\n", rm.Path, suffix)
				}
				what := fmt.Sprintf("%d entries (%s, %s)", entries, plural(files, "file"), formatBytes(bytes))
				if entries == 1 {
					what = fmt.Sprintf("1 entry (%s, %s)", plural(files, "file"), formatBytes(bytes))
				}
				switch {
				case dryRun && forgetOld:
					fmt.Fprintf(stdout, "  would remove %s, save a new snapshot and forget %s\n", what, old.ID.Short())
				case dryRun:
					fmt.Fprintf(stdout, "  would remove %s and save a new snapshot\n", what)
				default:
					fmt.Fprintf(stdout, "  %s -> %s: removed %s\n", old.ID.Short(), res.New.ID.Short(), what)
					if res.Forgotten {
						fmt.Fprintf(stdout, "  forgot snapshot %s\n", old.ID.Short())
					}
				}
			}
			_, err = rewrite.Run(ctx, r, snaps, rewrite.Options{Excludes: ex, IExcludes: iex, DryRun: dryRun, Forget: forgetOld, Report: report})
			if err != nil {
				if changed > 0 {
					return fmt.Errorf("%w (%s rewritten before it)", err, plural(changed, "snapshot"))
				}
				return err
			}
			if g.json {
				printJSON(map[string]any{"message_type": "summary", "dry_run": dryRun, "changed_snapshots": changed,
					"unchanged_snapshots": unchanged, "forgotten_snapshots": forgotten})
			} else if !g.quiet {
				switch {
				case dryRun:
					fmt.Fprintf(stdout, "would rewrite %s, %d unchanged\n", plural(changed, "snapshot"), unchanged)
				case forgetOld:
					fmt.Fprintf(stdout, "rewrote %s, %d unchanged; forgot %d\n", plural(changed, "snapshot"), unchanged, forgotten)
				default:
					fmt.Fprintf(stdout, "rewrote %s, %d unchanged; the originals are kept until forgotten\n", plural(changed, "snapshot"), unchanged)
				}
			}
			return nil
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVarP(&excludes, "exclude", "e", nil, "remove paths matching `pattern` (repeatable)")
	fl.StringArrayVar(&excludeFiles, "exclude-file", nil, "read exclude patterns from `file` (repeatable)")
	fl.StringArrayVar(&iexcludes, "iexclude", nil, "like --exclude, for `pattern` regardless of case (repeatable)")
	fl.StringArrayVar(&iexcludeFiles, "iexclude-file", nil, "like --exclude-file, for the patterns in `file` regardless of case (repeatable)")
	fl.BoolVar(&forgetOld, "forget", false, "remove each original snapshot once its rewrite is saved")
	fl.BoolVarP(&dryRun, "dry-run", "n", false, "only print what would be removed")
	return cmd
}

func pathList(ps []string) string { return "[" + strings.Join(ps, " ") + "]" }

// removedJSON is the excluded paths of a changed_snapshot message.
func removedJSON(rs []rewrite.Removed) []map[string]any {
	out := make([]map[string]any, 0, len(rs))
	for _, rm := range rs {
		m := map[string]any{"path": rm.Path, "type": rm.Kind.String(), "entries": rm.Entries, "files": rm.Files, "bytes": rm.Bytes}
		if !utf8.ValidString(rm.Path) {
			m["path_bytes"] = base64.StdEncoding.EncodeToString([]byte(rm.Path))
		}
		out = append(out, m)
	}
	return out
}
