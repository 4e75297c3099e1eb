package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/cmd/cairn/daemon/metrics"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// ingestOutput shows an ingest's events the one way, whether the ingest
// runs here or in a daemon: progress (JSON lines on stdout, or a live line
// on a terminal's stderr), one message per unreadable path on stderr, and
// the summary.
type ingestOutput struct {
	g    *globals
	line liveLine

	mu         sync.Mutex
	unreadable int
	dryRun     bool          // --dry-run: nothing was saved
	snapshot   id.ID         // set by summary
	sum        *repo.Summary // set by summary
	// skipped (--skip-if-unchanged): no snapshot was (or, with
	// --dry-run, would be) written, as parent holds the same.
	skipped bool
	// stdin: the ingest reads --stdin, where an empty stream more likely
	// means a failed command before the pipe than an empty file.
	stdin bool
	// stream: the ingest reads a stream (--stdin or
	// --stdin-from-command), whose parent is only one of the same name.
	stream bool
	// parent is the snapshot this one follows (its host and source's
	// newest, or --parent); zero when it is the first.
	parent id.ID
}

func newIngestOutput(g *globals) *ingestOutput { return &ingestOutput{g: g} }

// wantProgress reports whether progress is shown at all: never with
// --quiet, so that -q --json prints the summary alone, as restic does.
func (o *ingestOutput) wantProgress() bool {
	return !o.g.quiet && (o.g.json || isTerminal(os.Stderr))
}

func (o *ingestOutput) progress(p ingest.Progress) {
	if o.g.json {
		m := statusJSON(p)
		if p.Current != "" {
			m["current_files"] = []string{p.Current}
		}
		if p.Finishing {
			m["finishing"] = true
		}
		printJSON(m)
		return
	}
	done, total := dataBytes(p)
	s := fmt.Sprintf("[%s] %d files %s, %s/s", formatDuration(p.Elapsed), p.FilesDone, formatBytes(done), formatBytes(int64(rate(done, p.Elapsed))))
	if p.ScanDone {
		s = fmt.Sprintf("[%s] %d/%d files %s/%s, %s/s", formatDuration(p.Elapsed), p.FilesDone, p.TotalFiles, formatBytes(done), formatBytes(total), formatBytes(int64(rate(done, p.Elapsed))))
		if e := ingestETA(p); e >= 0 {
			s += " ETA " + formatDuration(e)
		}
	}
	if p.Current != "" {
		s += "  " + p.Current
	}
	if p.Finishing {
		s += "  storing the last packs and the index"
	}
	o.line.show(s)
}

// warn reports a path that could not be read.
func (o *ingestOutput) warn(path, msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.unreadable++
	if o.g.json {
		printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": msg}, "during": "archival", "item": path})
	} else {
		fmt.Fprintf(os.Stderr, "%scairn: cannot read %s: %s\n", daemon.Level(daemon.LevelWarning), printablePath(path), msg)
	}
}

// item reports what was done with a file (-v): new, modified or unchanged.
func (o *ingestOutput) item(path, action string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.g.json {
		printJSON(map[string]any{"message_type": "verbose_status", "action": action, "item": path})
		return
	}
	fmt.Fprintf(stdout, "%-9s %s\n", action, printablePath(path))
}

// notice reports a path saved, but not exactly as it is (a time beyond
// what a snapshot holds): a warning, not counted as unreadable, so the
// exit code stays 0.
func (o *ingestOutput) notice(path, msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.g.json {
		printJSONTo(os.Stderr, map[string]any{"message_type": "warning", "message": msg, "during": "archival", "item": path})
	} else {
		fmt.Fprintf(os.Stderr, "%scairn: warning: %s: %s\n", daemon.Level(daemon.LevelWarning), path, msg)
	}
}

// done clears the live line.
func (o *ingestOutput) done() { o.line.done() }

// skippedSummary prints the summary of an ingest that wrote no snapshot
// since nothing changed from parent.
func (o *ingestOutput) skippedSummary(parent id.ID, s *repo.Summary) error {
	o.skipped = true
	return o.summary(id.Zero, parent, s)
}

// summary prints the snapshot written and the parent it follows (zero:
// none); with unreadable paths the result is exit code 3.
func (o *ingestOutput) summary(sid, parent id.ID, s *repo.Summary) error {
	o.snapshot, o.parent, o.sum = sid, parent, s
	if s == nil {
		s = &repo.Summary{}
	}
	if o.stdin && s.TotalBytes == 0 {
		o.g.warnf("standard input was empty, so the snapshot holds an empty file: if a command piped into cairn failed, its exit code was lost (--stdin-from-command checks it and then saves no snapshot)")
	}
	if o.g.json {
		m := map[string]any{
			"message_type": "summary", "snapshot_id": sid.String(), "short_id": sid.Short(),
			"files_new": s.FilesNew, "files_changed": s.FilesChanged, "files_unchanged": s.FilesUnchanged,
			"dirs_new": s.DirsNew, "dirs_changed": s.DirsChanged, "dirs_unchanged": s.DirsUnchanged,
			// restic's names for the same counts, which scripts read
			"files_unmodified": s.FilesUnchanged, "dirs_unmodified": s.DirsUnchanged,
			"data_blobs": s.DataBlobs, "tree_blobs": s.TreeBlobs, "data_added": s.DataAdded, "data_added_packed": s.DataAddedStored,
			"total_files_processed": s.TotalFiles, "total_bytes_processed": s.TotalBytes,
			"total_duration": s.End.Sub(s.Start).Seconds(), "files_unreadable": s.FilesUnreadable,
			"backup_start": s.Start, "backup_end": s.End,
		}
		if o.dryRun || o.skipped {
			delete(m, "snapshot_id")
			delete(m, "short_id")
		}
		if o.dryRun {
			m["dry_run"] = true
		}
		if !o.parent.IsZero() {
			m["parent_snapshot_id"] = o.parent.String()
		}
		if o.skipped {
			m["skipped"] = true
		}
		printJSON(m)
	} else if !o.g.quiet {
		added := "Added:      "
		if o.dryRun {
			added = "Would add:  "
		}
		if o.parent.IsZero() && o.stream {
			fmt.Fprintln(stdout, "Parent:      none (the first snapshot of this stream name, host and source)")
		} else if o.parent.IsZero() {
			fmt.Fprintln(stdout, "Parent:      none (the first snapshot of this host and source)")
		} else {
			fmt.Fprintf(stdout, "Parent:      snapshot %s\n", o.parent.Short())
		}
		fmt.Fprintf(stdout, "Files:       %d new, %d changed, %d unchanged\n", s.FilesNew, s.FilesChanged, s.FilesUnchanged)
		fmt.Fprintf(stdout, "Dirs:        %d new, %d changed, %d unchanged\n", s.DirsNew, s.DirsChanged, s.DirsUnchanged)
		fmt.Fprintf(stdout, "%s %s (%s stored)\n", added, formatBytes(s.DataAdded), formatBytes(s.DataAddedStored))
		fmt.Fprintf(stdout, "Processed:   %s, %s in %s\n", plural(s.TotalFiles, "file"), formatBytes(s.TotalBytes), formatDuration(s.End.Sub(s.Start)))
		switch {
		case o.dryRun && o.skipped:
			fmt.Fprintln(stdout, "dry run: nothing was stored")
			fmt.Fprintf(stdout, "nothing changed since snapshot %s: no snapshot would be written\n", o.parent.Short())
		case o.dryRun:
			fmt.Fprintln(stdout, "dry run: nothing was stored")
		case o.skipped:
			fmt.Fprintf(stdout, "nothing changed since snapshot %s: no snapshot written\n", o.parent.Short())
		default:
			fmt.Fprintf(stdout, "snapshot %s saved\n", sid.Short())
		}
	}
	if o.unreadable > 0 {
		if o.dryRun {
			return &exitError{exitPartial, fmt.Errorf("dry run: %s could not be read", plural(o.unreadable, "path"))}
		}
		if o.skipped {
			return &exitError{exitPartial, fmt.Errorf("no snapshot written (nothing changed since %s), but %s could not be read", o.parent.Short(), plural(o.unreadable, "path"))}
		}
		return &exitError{exitPartial, fmt.Errorf("snapshot %s saved, but %s could not be read", sid.Short(), plural(o.unreadable, "path"))}
	}
	return nil
}

// writeIngestMetrics writes --metrics-file after an ingest that ended with
// err: the file's previous counters carry on.
func writeIngestMetrics(path string, opt ingest.Options, start time.Time, out *ingestOutput, err error) error {
	set, lerr := metrics.LoadFile(path)
	if lerr != nil {
		set = &metrics.Set{}
	}
	host := opt.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	source := opt.Source
	if source == "" {
		source = ingest.DefaultSource
	}
	res := metrics.BackupResult{Start: start, End: time.Now(), Success: err == nil || exitCode(err) == exitPartial}
	if s := out.sum; s != nil {
		res.AddedBytes, res.Files, res.Unreadable = s.DataAdded, s.TotalFiles, int64(out.unreadable)
		res.SnapshotTime = opt.Time
		if res.SnapshotTime.IsZero() {
			res.SnapshotTime = s.Start // ingest dates a snapshot by its start
		}
		if out.skipped {
			res.SnapshotTime = time.Time{} // none was written
		}
	}
	set.Backup(host, source, res)
	if werr := set.WriteFile(path); werr != nil {
		return fmt.Errorf("--metrics-file: %w", errors.Join(werr, lerr))
	}
	return nil
}

// statusJSON is a --json status line without its current file: restic's
// shape, percent_done being bytes_done / total_bytes and
// seconds_remaining estimated from the same bytes.
func statusJSON(p ingest.Progress) map[string]any {
	done, total := dataBytes(p)
	m := map[string]any{"message_type": "status", "seconds_elapsed": int(p.Elapsed.Seconds()), "files_done": p.FilesDone, "bytes_done": done, "error_count": p.Errors}
	if p.ScanDone {
		m["total_files"], m["total_bytes"] = p.TotalFiles, total
		switch {
		case total > 0:
			m["percent_done"] = float64(done) / float64(total)
		case p.TotalFiles > 0:
			// No data to read (empty files, or sparse images that are
			// all hole): the files done tell how far it is.
			m["percent_done"] = float64(p.FilesDone) / float64(p.TotalFiles)
		}
		if e := ingestETA(p); e >= 0 {
			m["seconds_remaining"] = int(e.Seconds())
		}
	}
	return m
}

// dataBytes is the progress in bytes of file data, done and in all: what
// the progress shows. The holes of sparse files are left out, as they
// cost no reading: with them, a 300 GiB disk image holding 600 MiB of
// data stayed at 0.26% done while the time left came to 0:00, then
// jumped to 100% once its data was read. The summary's
// total_bytes_processed still counts the files' whole sizes.
func dataBytes(p ingest.Progress) (done, total int64) {
	done = max(p.BytesDone-p.HolesDone, 0)
	total = max(p.TotalBytes-p.TotalHoles, done)
	return done, total
}

// ingestETA estimates the time an ingest has left (-1: unknown) from the
// bytes it still has to read: holes of sparse files cost nothing. Once
// the reading is over (Finishing), it is unknown: after an interrupt or a
// failed walk the scan's totals were never reached, and the time left to
// store the last packs is not that of reading the rest.
func ingestETA(p ingest.Progress) time.Duration {
	if p.Finishing {
		return -1
	}
	done, total := dataBytes(p)
	return eta(done, total, p.Elapsed)
}
