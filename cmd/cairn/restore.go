package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo/restore"
)

func newRestoreCommand(g *globals) *cobra.Command {
	var f filterFlags
	var target, overwrite string
	var includes []string
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT[:PATH] --target DIR",
		Short: "Restore a snapshot, or part of it, into a folder",
		Long: `Restore a snapshot (or the subtree at PATH) into --target, with every
attribute: owners (as root), modes, times, extended attributes and ACLs,
hardlinks, device nodes and sparse files.

--overwrite decides what happens to files already in the target:
  if-changed (default)  replace a file that differs in size or mtime, but never
                        one newer than the snapshot's copy (that is reported)
  always                replace everything
  never                 keep every existing file`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Restore's live heap is small and its chunk buffers are pooled:
			// collecting as often as ingest does would empty the pools again
			// and again (measured: a third slower).
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(50)
			}
			ow, err := restore.ParseOverwrite(overwrite)
			if err != nil {
				return err
			}
			if target == "" {
				return errors.New("--target is required")
			}
			r, lock, release, err := g.openLocked(ctx, "restore")
			if err != nil {
				return err
			}
			defer release()
			sn, sub, err := findSnapshot(ctx, r, args[0], f)
			if err != nil {
				return err
			}
			var mu sync.Mutex
			opt := restore.Options{Target: target, Include: includes, Overwrite: ow, SkipOwner: os.Geteuid() != 0,
				Notice: func(p, msg string) {
					mu.Lock()
					defer mu.Unlock()
					if g.json {
						printJSONTo(os.Stderr, map[string]any{"message_type": "notice", "message": msg, "item": p})
					} else if !g.quiet {
						fmt.Fprintf(os.Stderr, "cairn: %s: %s\n", p, msg)
					}
				},
				Warn: func(p string, err error) {
					mu.Lock()
					defer mu.Unlock()
					if g.json {
						printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": err.Error()}, "during": "restore", "item": p})
					} else {
						fmt.Fprintf(os.Stderr, "cairn: %s: %v\n", p, err)
					}
				}}
			var line liveLine
			switch {
			case g.json:
				opt.Progress = func(p restore.Progress) {
					m := map[string]any{"message_type": "status", "seconds_elapsed": int(p.Elapsed.Seconds()), "files_restored": p.FilesDone, "bytes_restored": p.BytesDone, "total_bytes": p.TotalBytes}
					if p.TotalBytes > 0 {
						m["percent_done"] = float64(p.BytesDone) / float64(p.TotalBytes)
					}
					printJSON(m)
				}
			case !g.quiet && isTerminal(os.Stderr):
				opt.Progress = func(p restore.Progress) {
					s := fmt.Sprintf("[%s] %d files %s of %s, %s/s", formatDuration(p.Elapsed), p.FilesDone, formatBytes(p.BytesDone), formatBytes(p.TotalBytes),
						formatBytes(int64(rate(p.BytesDone, p.Elapsed))))
					if p.WalkDone {
						if e := eta(p.BytesDone, p.TotalBytes, p.Elapsed); e >= 0 {
							s += " ETA " + formatDuration(e)
						}
					}
					line.show(s)
				}
			}
			st, err := restore.Run(lock.Context(), r, sn, sub, opt)
			line.done()
			if st != nil {
				if g.json {
					printJSON(map[string]any{"message_type": "summary", "snapshot_id": sn.ID.String(), "files_restored": st.Files, "dirs_restored": st.Dirs,
						"links_restored": st.Links, "others_restored": st.Others, "bytes_restored": st.Bytes, "files_skipped": st.Skipped, "errors": st.Errors})
				} else if !g.quiet {
					fmt.Printf("restored snapshot %s to %s: %d files, %d dirs, %d links, %d others, %s; %d kept, %d errors\n",
						sn.ID.Short(), target, st.Files, st.Dirs, st.Links, st.Others, formatBytes(st.Bytes), st.Skipped, st.Errors)
				}
			}
			if err != nil && cmd.Context().Err() != nil {
				return cmd.Context().Err()
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&target, "target", "t", "", "restore into `dir`")
	cmd.Flags().StringArrayVarP(&includes, "include", "i", nil, "restore only paths matching `pattern` (repeatable)")
	cmd.Flags().StringVar(&overwrite, "overwrite", "if-changed", "existing files: always, if-changed or never")
	return cmd
}
