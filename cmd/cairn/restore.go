package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

func newRestoreCommand(g *globals) *cobra.Command {
	var f filterFlags
	var target, overwrite string
	var verify, dryRun, del bool
	var sel selectionFlags
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT[:PATH] --target DIR",
		Short: "Restore a snapshot, or part of it, into a folder",
		Long: `Restore a snapshot (or the subtree at PATH) into --target, with every
attribute: owners (as root), modes, times, extended attributes and ACLs,
hardlinks, device nodes and sparse files. As root, the
inode flags of files and folders (chattr: immutable, append-only,
nodump, noatime, sync, no-copy-on-write...) are set last; an immutable or
append-only file or folder in the way has those flags cleared first. A
target filesystem that refuses them is said once, not as an error.

--overwrite decides what happens to files already in the target:
  if-changed (default)  replace a file that differs in size or mtime, but never
                        one newer than the snapshot's copy (that is reported);
                        one of the same size and mtime keeps its content and
                        gets the snapshot's owner, mode and xattrs, unless
                        it has hardlinks other than the snapshot's names of
                        it in the target: then it is replaced, so that
                        nothing outside the target changes; a symlink to the
                        same target, a fifo, a socket or a device of the same
                        number is kept the same way; a symlink, fifo, socket
                        or device where the snapshot has another kind is
                        replaced, however new (it holds no data to lose)
  if-newer              replace a file only when the snapshot's copy has the
                        later mtime (as restic's if-newer)
  always                replace everything
  never                 keep every existing file (but one a killed restore left
                        half-written: see below)

A restore that is interrupted leaves no partial file: a new file not yet
complete is removed, and a file that replaces an existing one, or a new one of
16 MiB or more, is written under a temporary name in its folder
(.NAME.cairn-partial-…) and renamed into place when complete, so the existing
one stays as it was until then, and a restore killed outright (SIGKILL, power
loss) leaves no large file cut short at its name for the next restore to keep
as newer (only the temporary and an empty file that keeps its name taken).
Restoring again removes such temporaries: in each folder that was already
there, a regular file named .NAME.cairn-partial- and 16 hex digits, with one
link and the writing mode below, where NAME is a file the restore puts in that
folder; nothing else that looks like one. A smaller new file is written at its
name with mode 0200 (0300 when its own mode is 0200) until complete; an
existing file of that mode, which only such a killed restore leaves, is
replaced whatever its mtime. A chunk the repository lacks (damaged or missing)
is left as zeros, named in a warning, and the rest of the file is restored,
without the snapshot's metadata and with its mtime set to 1970, so that
restoring again (once the repository is repaired or the storage answers)
replaces it. Such a copy never replaces a file that was in the target
(but one a restore left damaged or unfinished), nor a folder in its way
(which --overwrite always and --delete replace otherwise): that is kept as
it was, and the error says so; restore into an empty folder to get the copy.

The folders above the snapshot's paths (/ and /home for a snapshot of
/home/alice) that are already in the target are left as they are. A symlink in
the target in place of one (/home -> /data/home, restoring with --target /) is
followed, as restic and rsync -K do, when it leads, resolved as the kernel
would, to a folder inside the target; any other symlink there (leading outside
the target, into another of the snapshot's paths, or nowhere) is replaced by a
folder, and a notice says so (with --overwrite never it is kept, an error): a
restore never writes outside --target.

--delete then removes from the target what the snapshot lacks: in each folder
the restore went into, within the paths the snapshot was taken of, every
entry the snapshot does not hold that the selection (--include, --exclude)
covers. The folders above those paths are left as they are: restoring a
snapshot of /home/alice with --target / --delete rolls /home/alice back and
touches nothing else in / or /home. What was never backed up is never
deleted: what the restore's --exclude or the ingest's own --exclude and
--iexclude patterns (recorded in the snapshot) leave out, nor the folder
holding it. With --overwrite always this rolls a folder back
to the snapshot, as rsync --delete would; with if-changed, a file newer than
the snapshot's copy stays (reported), and all else goes back. Symlinks are
removed, never followed (but for one above the paths, followed as said above),
and nothing outside --target is touched. A folder it would delete or replace
that is a mount point is an error, and what is on it is left; a filesystem
mounted on one of the snapshot's folders (a new /home partition) is restored
into, and deleted from, as that folder, as rsync --delete without -x does. A
folder where something
could not be restored keeps what it has (and so does every folder above it),
as does one the ingest did not take whole (an entry it could not read or
that --exclude-larger-than left out, a mount point --one-file-system did
not cross, a cache --exclude-caches left out), or one a rewrite or repair
snapshots took an entry out of;
a restore that is interrupted deletes nothing. A folder where the snapshot
has a file is replaced, unless --overwrite never keeps it or it holds
excluded paths. A path that cannot be deleted is an error, as a file that
cannot be restored is: the rest goes on, and cairn exits with 1.

--include and --exclude patterns are restic's, matched against the paths
cairn ls shows (from the snapshot's root): "*.iso" anywhere, "/home/alice/tmp"
from the root, "**" across folders, "!" to take back. Restoring
SNAP:FOLDER, a pattern starting with "/" may also be written relative to
FOLDER, as restic's SNAP:subfolder takes it: restore latest:/home/alice
--exclude /Downloads leaves out /home/alice/Downloads.

--dry-run (-n) changes nothing and reads no file data: it counts what would
be restored, kept and deleted. With -v (or restic's -vv) every path is
listed as it is, or would be, restored, updated, unchanged or deleted.`,
		Args: oneSelector(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Restore's live heap is small: collecting as often as ingest
			// does was a third slower when each collection emptied the
			// buffer pools (before bufpool's cache; not measured since).
			setGCPercent(50)
			ow, err := restore.ParseOverwrite(overwrite)
			if err != nil {
				return err
			}
			if target == "" {
				return errors.New("--target is required")
			}
			if dryRun {
				verify = false // nothing is written to read back
			}
			pats, err := sel.read()
			if err != nil {
				return err
			}
			r, lctx, release, err := g.openReading(ctx, "restore")
			if err != nil {
				return err
			}
			defer release()
			sn, sub, err := g.findSnapshot(ctx, r, args[0], f, "")
			if err != nil {
				return err
			}
			var unmatched []string
			if len(pats.include)+len(pats.iinclude) > 0 {
				positive := 0
				for _, p := range append(pats.include, pats.iinclude...) {
					if !strings.HasPrefix(p, "!") {
						positive++
					}
				}
				if unmatched, err = unmatchedIncludes(ctx, r, sn, sub, pats.include, pats.iinclude); err != nil {
					return err
				}
				if len(unmatched) > 0 && len(unmatched) == positive {
					return fmt.Errorf("nothing in snapshot %s:%s matches --include %s: nothing restored", sn.ID.Short(), sub, quoteList(unmatched))
				}
			}
			var mu sync.Mutex
			opt := restore.Options{Target: target, Include: pats.include, IInclude: pats.iinclude, Exclude: pats.exclude, IExclude: pats.iexclude,
				Overwrite: ow, SkipOwner: os.Geteuid() != 0, Verify: verify, DryRun: dryRun, Delete: del,
				Notice: func(p, msg string) {
					mu.Lock()
					defer mu.Unlock()
					if g.json {
						printJSONTo(os.Stderr, map[string]any{"message_type": "notice", "message": msg, "item": p})
					} else if !g.quiet {
						fmt.Fprintf(os.Stderr, "cairn: %s: %s\n", printablePath(p), msg)
					}
				},
				Warn: func(p string, err error) {
					mu.Lock()
					defer mu.Unlock()
					if g.json {
						printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": err.Error()}, "during": "restore", "item": p})
					} else {
						fmt.Fprintf(os.Stderr, "cairn: %s: %v\n", printablePath(p), err)
					}
				}}
			if g.daemon.verbose > 0 && !g.quiet {
				opt.Item = func(p string, a restore.Action, size uint64) {
					mu.Lock()
					defer mu.Unlock()
					if g.json {
						printJSON(map[string]any{"message_type": "verbose_status", "action": a.String(), "item": p, "size": size})
					} else if size > 0 {
						fmt.Fprintf(stdout, "%-9s %s with size %s\n", a, printablePath(p), formatBytes(int64(size)))
					} else {
						fmt.Fprintf(stdout, "%-9s %s\n", a, printablePath(p))
					}
				}
			}
			var line liveLine
			switch {
			case g.json && !g.quiet: // -q --json: the summary alone, as restic
				opt.Progress = func(p restore.Progress) {
					m := map[string]any{"message_type": "status", "seconds_elapsed": int(p.Elapsed.Seconds()), "files_restored": p.FilesDone, "bytes_restored": p.BytesDone, "total_bytes": p.TotalBytes}
					if p.TotalBytes > 0 {
						m["percent_done"] = float64(p.BytesDone) / float64(p.TotalBytes)
					}
					mu.Lock() // not amid a verbose_status line
					defer mu.Unlock()
					printJSON(m)
				}
			case !g.quiet && isTerminal(os.Stderr) && opt.Item == nil:
				opt.Progress = func(p restore.Progress) {
					s := fmt.Sprintf("[%s] %s %s of %s, %s/s", formatDuration(p.Elapsed), plural(int(p.FilesDone), "file"), formatBytes(p.BytesDone), formatBytes(p.TotalBytes),
						formatBytes(int64(rate(p.BytesDone, p.Elapsed))))
					if p.WalkDone {
						if e := eta(p.BytesDone, p.TotalBytes, p.Elapsed); e >= 0 {
							s += " ETA " + formatDuration(e)
						}
					}
					line.show(s)
				}
			}
			st, err := restore.Run(lctx, r, sn, sub, opt)
			line.done()
			// Stopped (Ctrl-C, SIGTERM, a lost lock): the files not complete
			// were removed, so what is there is whole.
			stopped := err != nil && lctx.Err() != nil
			if st != nil {
				// Kept, and with --delete deleted: "; 2 kept, 1 deleted".
				kept := fmt.Sprintf("%d kept", st.Skipped)
				if del {
					kept += fmt.Sprintf(", %d deleted", st.Deleted)
				}
				verb := "restored" // of what was done when stopped
				if dryRun {
					verb = "to restore"
				}
				if g.json {
					printJSON(map[string]any{"message_type": "summary", "snapshot_id": sn.ID.String(), "dry_run": dryRun,
						"total_files": st.Files + st.Dirs + st.Links + st.Others + st.Skipped, "files_restored": st.Files, "dirs_restored": st.Dirs,
						"links_restored": st.Links, "others_restored": st.Others, "files_skipped": st.Skipped, "files_deleted": st.Deleted,
						"total_bytes": st.Bytes + st.SkippedBytes, "bytes_restored": st.Bytes, "bytes_skipped": st.SkippedBytes, "errors": st.Errors,
						"files_stopped": st.Stopped, "interrupted": stopped, "files_verified": st.Verified})
				} else if !g.quiet && stopped {
					left := "nothing partial left"
					if dryRun {
						left = "nothing changed (dry run)"
					}
					switch {
					case st.Stopped == 1:
						left = "1 file not finished was left out: " + left
					case st.Stopped > 1:
						left = fmt.Sprintf("%d files not finished were left out: %s", st.Stopped, left)
					}
					fmt.Fprintf(stdout, "restore of snapshot %s to %s stopped: %s, %s, %s, %s, %s %s; %s, %s; %s\n",
						sn.ID.Short(), target, plural(int(st.Files), "file"), plural(int(st.Dirs), "dir"), plural(int(st.Links), "link"),
						plural(int(st.Others), "other"), formatBytes(st.Bytes), verb, kept, plural(int(st.Errors), "error"), left)
				} else if !g.quiet {
					done := "restored"
					if dryRun {
						done = "would restore"
					}
					fmt.Fprintf(stdout, "%s snapshot %s to %s: %s, %s, %s, %s, %s; %s, %s\n", done,
						sn.ID.Short(), target, plural(int(st.Files), "file"), plural(int(st.Dirs), "dir"), plural(int(st.Links), "link"),
						plural(int(st.Others), "other"), formatBytes(st.Bytes), kept, plural(int(st.Errors), "error"))
					if dryRun {
						fmt.Fprintln(stdout, "dry run: nothing was changed")
					}
					if verify {
						fmt.Fprintf(stdout, "verified %s read back from the disk\n", plural(int(st.Verified), "file"))
					}
				}
			}
			if err != nil && cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			if err == nil && len(unmatched) > 0 {
				return fmt.Errorf("nothing in snapshot %s:%s matches --include %s", sn.ID.Short(), sub, quoteList(unmatched))
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&target, "target", "t", "", "restore into `dir`")
	sel.register(cmd)
	cmd.Flags().StringVar(&overwrite, "overwrite", "if-changed", "what happens to files already in the target: `mode` is if-changed, if-newer, always or never")
	cmd.RegisterFlagCompletionFunc("overwrite", cobra.FixedCompletions([]string{"if-changed", "if-newer", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().BoolVar(&verify, "verify", false, "read every restored file back from the disk and check it against the snapshot")
	cmd.Flags().BoolVar(&del, "delete", false, "then delete what the target holds and the snapshot does not (not what --exclude leaves out); check first with --dry-run -v")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "change nothing: say what would be restored, kept and deleted (-v: each path)")
	return cmd
}

// selectionFlags are restore's restic-style --include and --exclude
// flags, each also from files and regardless of case.
type selectionFlags struct {
	include, includeFile, iinclude, iincludeFile []string
	exclude, excludeFile, iexclude, iexcludeFile []string
}

func (s *selectionFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&s.include, "include", "i", nil, "restore only paths matching `pattern` (repeatable)")
	fl.StringArrayVar(&s.includeFile, "include-file", nil, "read --include patterns from `file` (repeatable)")
	fl.StringArrayVar(&s.iinclude, "iinclude", nil, "like --include, for `pattern` regardless of case (repeatable)")
	fl.StringArrayVar(&s.iincludeFile, "iinclude-file", nil, "like --include-file, for the patterns in `file` regardless of case (repeatable)")
	fl.StringArrayVarP(&s.exclude, "exclude", "e", nil, "do not restore paths matching `pattern` (repeatable)")
	fl.StringArrayVar(&s.excludeFile, "exclude-file", nil, "read --exclude patterns from `file` (repeatable)")
	fl.StringArrayVar(&s.iexclude, "iexclude", nil, "like --exclude, for `pattern` regardless of case (repeatable)")
	fl.StringArrayVar(&s.iexcludeFile, "iexclude-file", nil, "like --exclude-file, for the patterns in `file` regardless of case (repeatable)")
}

// selection is the patterns of selectionFlags, files read.
type selection struct{ include, iinclude, exclude, iexclude []string }

func (s *selectionFlags) read() (selection, error) {
	var out selection
	var err error
	for _, l := range []struct {
		dst         *[]string
		flag        string
		given, file []string
	}{{&out.include, "--include-file", s.include, s.includeFile}, {&out.iinclude, "--iinclude-file", s.iinclude, s.iincludeFile},
		{&out.exclude, "--exclude-file", s.exclude, s.excludeFile}, {&out.iexclude, "--iexclude-file", s.iexclude, s.iexcludeFile}} {
		if *l.dst, err = readPatterns(l.flag, l.given, l.file); err != nil {
			return out, err
		}
	}
	return out, nil
}

// unmatchedIncludes returns the include patterns (not the "!" ones), those
// matched as they are and those regardless of case, that match nothing
// below sub in sn, matching as restore does.
func unmatchedIncludes(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, sub string, include, iinclude []string) ([]string, error) {
	root, rel, err := restore.Find(ctx, r, sn, sub)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, p := range append(append([]string{}, include...), iinclude...) {
		if strings.HasPrefix(p, "!") {
			continue
		}
		one := []string{p}
		var in *filter.Includer
		if i < len(include) {
			in, err = filter.NewSelection(one, nil, nil, nil)
		} else {
			in, err = filter.NewSelection(nil, one, nil, nil)
		}
		if err != nil {
			return nil, err
		}
		in = in.Beneath(restore.PatternRoot(root, rel))
		found := in.Includes(rel) // a single file: whether it is taken
		if root.Kind == tree.KindDir {
			found, err = anyIncluded(ctx, r, in, root.Subtree, rel)
		}
		if err != nil {
			return nil, err
		}
		if !found {
			out = append(out, p)
		}
	}
	return out, nil
}

// anyIncluded walks the tree tid (at rel) until in includes an entry.
func anyIncluded(ctx context.Context, r *repo.Repository, in *filter.Includer, tid id.ID, rel string) (bool, error) {
	nodes, err := r.LoadTree(ctx, tid)
	if err != nil {
		return false, err
	}
	for _, n := range nodes {
		crel := path.Join(rel, n.Name)
		if in.Includes(crel) {
			return true, nil
		}
		if n.Kind == tree.KindDir && in.MayContain(crel) {
			if ok, err := anyIncluded(ctx, r, in, n.Subtree, crel); ok || err != nil {
				return ok, err
			}
		}
	}
	return false, nil
}

func quoteList(ps []string) string {
	q := make([]string, len(ps))
	for i, p := range ps {
		q[i] = fmt.Sprintf("%q", p)
	}
	return strings.Join(q, ", ")
}
