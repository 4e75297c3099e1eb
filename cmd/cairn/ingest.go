package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/ingest"
)

type ingestFlags struct {
	host, source     string
	tags             []string
	excludes         []string
	excludeFiles     []string
	excludeCaches    bool
	oneFileSystem    bool
	stdin            bool
	stdinName        string
	stdinFromCommand bool
	timeFlag         string
}

func newIngestCommand(g *globals) *cobra.Command {
	f := &ingestFlags{}
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH... | --stdin | --stdin-from-command -- COMMAND [ARG...]",
		Short: "Back up paths or a stream into a new snapshot",
		Long: `Ingest paths (or standard input, or a command's output) into a new snapshot.

Unchanged files (same size, mtime, ctime and inode as in the last ingest of
the same host and source) are not read again. Paths given on the command line
are never excluded. Exit code 3 means the snapshot was saved but some files
could not be read; each one is reported.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIngest(cmd, g, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "host name to record (default: this machine's)")
	fl.StringVar(&f.source, "source", "", "source name, e.g. system or db (default: \"default\")")
	fl.StringSliceVar(&f.tags, "tag", nil, "add a `tag` (repeatable, or comma-separated)")
	fl.StringArrayVarP(&f.excludes, "exclude", "e", nil, "exclude paths matching `pattern` (repeatable)")
	fl.StringArrayVar(&f.excludeFiles, "exclude-file", nil, "read exclude patterns from `file` (repeatable)")
	fl.BoolVar(&f.excludeCaches, "exclude-caches", false, "skip the contents of folders holding a CACHEDIR.TAG")
	fl.BoolVarP(&f.oneFileSystem, "one-file-system", "x", false, "do not cross filesystem boundaries")
	fl.BoolVar(&f.stdin, "stdin", false, "ingest standard input as one file")
	fl.StringVar(&f.stdinName, "stdin-name", "stdin", "file `name` for --stdin and --stdin-from-command")
	fl.BoolVar(&f.stdinFromCommand, "stdin-from-command", false, "ingest the standard output of the command after --; no snapshot if it fails")
	fl.StringVar(&f.timeFlag, "time", "", "snapshot `time` (RFC 3339) instead of now")
	return cmd
}

func runIngest(cmd *cobra.Command, g *globals, f *ingestFlags, args []string) error {
	ctx := cmd.Context()
	opt := ingest.Options{Host: f.host, Source: f.source, Tags: f.tags, ExcludeCaches: f.excludeCaches, OneFileSystem: f.oneFileSystem, Version: version}
	opt.Excludes = append(opt.Excludes, f.excludes...)
	for _, ef := range f.excludeFiles {
		ps, err := filter.ReadFile(ef)
		if err != nil {
			return fmt.Errorf("--exclude-file: %w", err)
		}
		opt.Excludes = append(opt.Excludes, ps...)
	}
	if _, err := filter.Parse(opt.Excludes); err != nil {
		return err
	}
	if f.timeFlag != "" {
		t, err := time.Parse(time.RFC3339, f.timeFlag)
		if err != nil {
			return fmt.Errorf("--time: %w", err)
		}
		opt.Time = t
	}

	var child *exec.Cmd
	switch {
	case f.stdin && f.stdinFromCommand:
		return errors.New("--stdin and --stdin-from-command exclude each other")
	case f.stdinFromCommand:
		dash := cmd.ArgsLenAtDash()
		if dash < 0 || dash >= len(args) {
			return errors.New("--stdin-from-command needs the command after --")
		}
		if dash > 0 {
			return errors.New("--stdin-from-command takes no paths")
		}
		// The command runs in its own process group so an interrupt ends it
		// and whatever it started (which may hold the pipe open).
		child = exec.CommandContext(ctx, args[0], args[1:]...)
		child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		child.Cancel = func() error { return syscall.Kill(-child.Process.Pid, syscall.SIGKILL) }
		child.Stderr = os.Stderr
		out, err := child.StdoutPipe()
		if err != nil {
			return err
		}
		opt.Stdin, opt.StdinName = out, f.stdinName
	case f.stdin:
		if len(args) > 0 {
			return errors.New("--stdin takes no paths")
		}
		opt.Stdin, opt.StdinName = os.Stdin, f.stdinName
	default:
		if len(args) == 0 {
			return errors.New("nothing to ingest: give paths, --stdin or --stdin-from-command")
		}
		opt.Paths = args
	}

	r, lock, release, err := g.openLocked(ctx, "ingest")
	if err != nil {
		return err
	}
	defer release()

	if child != nil {
		if err := child.Start(); err != nil {
			return fmt.Errorf("start %s: %w", args[0], err)
		}
		opt.BeforeCommit = func() error {
			if err := child.Wait(); err != nil {
				return &exitError{exitFailure, fmt.Errorf("command %s failed (%v): no snapshot written", strings.Join(args, " "), err)}
			}
			return nil
		}
	}

	var unreadable []string
	var warnMu sync.Mutex
	opt.Warn = func(path string, err error) {
		warnMu.Lock()
		defer warnMu.Unlock()
		unreadable = append(unreadable, path)
		if g.json {
			printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": err.Error()}, "during": "archival", "item": path})
		} else {
			fmt.Fprintf(os.Stderr, "cairn: cannot read %s: %v\n", path, err)
		}
	}
	var line liveLine
	switch {
	case g.json:
		opt.Progress = func(p ingest.Progress) {
			m := map[string]any{"message_type": "status", "seconds_elapsed": int(p.Elapsed.Seconds()), "files_done": p.FilesDone, "bytes_done": p.BytesDone, "error_count": p.Errors}
			if p.ScanDone {
				m["total_files"], m["total_bytes"] = p.TotalFiles, p.TotalBytes
				if p.TotalBytes > 0 {
					m["percent_done"] = float64(p.BytesDone) / float64(p.TotalBytes)
				}
				if e := eta(p.BytesDone, p.TotalBytes, p.Elapsed); e >= 0 {
					m["seconds_remaining"] = int(e.Seconds())
				}
			}
			if p.Current != "" {
				m["current_files"] = []string{p.Current}
			}
			printJSON(m)
		}
	case !g.quiet && isTerminal(os.Stderr):
		opt.Progress = func(p ingest.Progress) {
			s := fmt.Sprintf("[%s] %d files %s, %s/s", formatDuration(p.Elapsed), p.FilesDone, formatBytes(p.BytesDone), formatBytes(int64(rate(p.BytesDone, p.Elapsed))))
			if p.ScanDone {
				s = fmt.Sprintf("[%s] %d/%d files %s/%s, %s/s", formatDuration(p.Elapsed), p.FilesDone, p.TotalFiles, formatBytes(p.BytesDone), formatBytes(p.TotalBytes), formatBytes(int64(rate(p.BytesDone, p.Elapsed))))
				if e := eta(p.BytesDone, p.TotalBytes, p.Elapsed); e >= 0 {
					s += " ETA " + formatDuration(e)
				}
			}
			if p.Current != "" {
				s += "  " + p.Current
			}
			line.show(s)
		}
	}

	ctx = lock.Context()
	res, err := ingest.Run(ctx, r, opt)
	line.done()
	if child != nil && err != nil && child.ProcessState == nil {
		if child.Process != nil {
			child.Process.Kill()
		}
		child.Wait()
	}
	if err != nil {
		if errors.Is(err, ingest.ErrInterrupted) && cmd.Context().Err() != nil {
			return cmd.Context().Err()
		}
		return err
	}
	sn := res.Snapshot
	s := sn.Summary
	if g.json {
		printJSON(map[string]any{
			"message_type": "summary", "snapshot_id": sn.ID.String(), "short_id": sn.ID.Short(),
			"files_new": s.FilesNew, "files_changed": s.FilesChanged, "files_unchanged": s.FilesUnchanged,
			"dirs_new": s.DirsNew, "dirs_changed": s.DirsChanged, "dirs_unchanged": s.DirsUnchanged,
			"data_blobs": s.DataBlobs, "tree_blobs": s.TreeBlobs, "data_added": s.DataAdded, "data_added_packed": s.DataAddedStored,
			"total_files_processed": s.TotalFiles, "total_bytes_processed": s.TotalBytes,
			"total_duration": s.End.Sub(s.Start).Seconds(), "files_unreadable": s.FilesUnreadable,
		})
	} else if !g.quiet {
		fmt.Printf("Files:       %d new, %d changed, %d unchanged\n", s.FilesNew, s.FilesChanged, s.FilesUnchanged)
		fmt.Printf("Dirs:        %d new, %d changed, %d unchanged\n", s.DirsNew, s.DirsChanged, s.DirsUnchanged)
		fmt.Printf("Added:       %s (%s stored)\n", formatBytes(s.DataAdded), formatBytes(s.DataAddedStored))
		fmt.Printf("Processed:   %d files, %s in %s\n", s.TotalFiles, formatBytes(s.TotalBytes), formatDuration(s.End.Sub(s.Start)))
		fmt.Printf("snapshot %s saved\n", sn.ID.Short())
	}
	if len(unreadable) > 0 {
		return &exitError{exitPartial, fmt.Errorf("snapshot %s saved, but %d paths could not be read", sn.ID.Short(), len(unreadable))}
	}
	return nil
}

func printJSONTo(w io.Writer, v any) {
	if w == os.Stdout {
		printJSON(v)
		return
	}
	b := mustJSON(v)
	w.Write(append(b, '\n'))
}
