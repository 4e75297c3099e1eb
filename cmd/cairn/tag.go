package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
)

func newTagCommand(g *globals) *cobra.Command {
	var f filterFlags
	var add, remove, set []string
	cmd := &cobra.Command{
		Use:   "tag [--add T] [--remove T] [--set T] [SNAPSHOT...]",
		Short: "Add, remove or set the tags of snapshots",
		Long: `Change the tags of the snapshots given (ID prefixes, or latest), or, when
none is given, of every snapshot the filter flags select, as restic's tag
does. A tag value may be a comma-separated list; --set '' removes every tag.

A snapshot's ID is the hash of its content, so a changed snapshot is saved
anew (recording the ID it came from as "original") and the old one removed.
Snapshots whose tags would not change are left alone.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			setGiven := cmd.Flags().Changed("set")
			if !setGiven && len(add) == 0 && len(remove) == 0 {
				return errors.New("nothing to do: give --add, --remove or --set")
			}
			if setGiven && len(add)+len(remove) > 0 {
				return errors.New("--set replaces the tags: give it alone, or --add and --remove")
			}
			r, lock, release, err := g.openLocked(ctx, "tag")
			if err != nil {
				return err
			}
			defer release()
			ctx = lock.Context()
			snaps, err := selectSnapshots(ctx, g, r, args, f)
			if err != nil {
				return err
			}
			changed := 0
			for _, sn := range snaps {
				tags := newTags(sn.Tags, tagsOf(add), tagsOf(remove), tagsOf(set), setGiven)
				if slices.Equal(tags, newTags(sn.Tags, nil, nil, nil, false)) {
					continue
				}
				old := sn.ID
				nsn := *sn
				nsn.Tags = tags
				if nsn.Original == nil {
					nsn.Original = &old
				}
				if err := r.SaveSnapshot(ctx, &nsn); err != nil {
					return fmt.Errorf("snapshot %s: %w (%d changed before it)", old.Short(), err, changed)
				}
				if err := r.RemoveSnapshot(ctx, old); err != nil {
					return fmt.Errorf("snapshot %s was saved with its new tags as %s, but the old one stays: %w", old.Short(), nsn.ID.Short(), err)
				}
				changed++
				if g.json {
					printJSON(map[string]any{"message_type": "changed_snapshot", "old_snapshot_id": old.String(), "new_snapshot_id": nsn.ID.String()})
				} else if !g.quiet {
					fmt.Fprintf(stdout, "%s -> %s  tags %s\n", old.Short(), nsn.ID.Short(), tagsText(tags))
				}
			}
			if g.json {
				printJSON(map[string]any{"message_type": "summary", "changed_snapshots": changed})
			} else if !g.quiet {
				fmt.Fprintf(stdout, "%s changed\n", plural(changed, "snapshot"))
			}
			return nil
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&add, "add", nil, "add `tags` (comma-separated; repeatable)")
	fl.StringArrayVar(&remove, "remove", nil, "remove `tags` (comma-separated; repeatable)")
	fl.StringArrayVar(&set, "set", nil, "replace all tags with `tags` (comma-separated; repeatable; '' for none)")
	return cmd
}

// tagsOf splits comma-separated tag lists into tags.
func tagsOf(lists []string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, repo.ParseTagList(l)...)
	}
	return out
}

// newTags returns the tags of a snapshot that has old after the change,
// sorted and without repeats.
func newTags(old, add, remove, set []string, setGiven bool) []string {
	tags := append([]string{}, old...)
	if setGiven {
		tags = append([]string{}, set...)
	}
	tags = append(tags, add...)
	tags = slices.DeleteFunc(tags, func(t string) bool { return slices.Contains(remove, t) })
	slices.Sort(tags)
	return slices.Compact(tags)
}

func tagsText(tags []string) string {
	if len(tags) == 0 {
		return "(none)"
	}
	return fmt.Sprint(tags)
}
