package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/tree"
)

// liveRoot returns the absolute path diff --live compares, checked before
// the repository is opened: a PATH that is not there would otherwise be
// compared as an empty folder, or named only by the snapshot search or an
// lstat error, after a header. PATH is taken as lstat takes it (a symlink
// is compared as a symlink, even a broken one), except that a trailing /
// asks for a folder, through a symlink, as the shell, ls and rsync read
// it: "home/" where home links to /srv/home compares /srv/home.
func liveRoot(live string) (string, error) {
	dir, err := filepath.Abs(live)
	if err != nil {
		return "", err
	}
	follow := strings.HasSuffix(live, "/")
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if lfi, lerr := os.Lstat(dir); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			to, _ := os.Readlink(dir)
			return "", fmt.Errorf("--live %s: a symlink to %s, which is not there: nothing to compare the snapshot with", printablePath(live), printablePath(to))
		}
		return "", fmt.Errorf("--live %s: no such folder: nothing to compare the snapshot with", printablePath(dir))
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once
		}
		return "", fmt.Errorf("--live %s: %w", printablePath(dir), err)
	case follow && !fi.IsDir():
		return "", fmt.Errorf("--live %s: not a folder (%s): leave out the trailing / to compare it", printablePath(live), fileKind(fi.Mode()))
	case follow:
		// Only a symlink is followed, as ingest's AbsPath follows
		// one: a folder's own path, as typed (and tab-completed, with
		// its /), is where a snapshot of it holds it, though a folder
		// above it may be a symlink.
		if lfi, err := os.Lstat(dir); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			return filepath.EvalSymlinks(dir)
		}
	}
	return dir, nil
}

// fileKind names a file's type for a message.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a file"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a fifo"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func newDiffCommand(g *globals) *cobra.Command {
	var f filterFlags
	var metadata bool
	var live string
	cmd := &cobra.Command{
		Use:   "diff SNAPSHOT1[:PATH] SNAPSHOT2[:PATH] | diff SNAPSHOT[:PATH] --live DIR",
		Short: "Show what changed between two snapshots, or a snapshot and the live files",
		Long: `Show what changed between two snapshots (or folders in them), one line per
path as restic prints it, then a summary:

  +    added            -    removed
  M    content changed  T    type changed (a file became a folder, ...)
  U    metadata only: mode, owner, mtime, xattrs, inode flags (with --metadata)

Folders end in "/". Folders that are identical in both snapshots are skipped
without being read.

Paths are always relative to the compared folders, which the first line
names (--json: "source_path" and "target_path" in the statistics). For a
whole snapshot the compared folder is its root, so its paths are as
"cairn ls" prints them; for SNAPSHOT:PATH and --live DIR they start at PATH
and DIR ("/app/app.conf" when comparing /etc). When a side is a file, the
path is the new side's name.

With --live DIR the snapshot (at PATH, by default at DIR's absolute path) is
compared with the files in DIR. Their content is not read: a file counts as
changed when its size or mtime differs. A DIR that does not exist is an
error (exit 1), said before the repository is opened. DIR may be a single
file; a symlink is compared as a symlink, unless DIR ends with "/", which
means the folder it points to (as for ls and rsync).

The byte counts mean the same in both modes and are file sizes, not stored
data:
  Added     the sizes of the files added entirely (also inside added folders)
  Removed   the sizes of the files removed entirely
  Changed   what the changed files grew by / shrank by, added up
A file that turned into something else counts as removed, and one that
appeared in place of something else as added.

SNAPSHOT is an ID prefix or "latest" (narrowed by --host/--source/--tag;
with a PATH or --live DIR, the latest snapshot holding it). A relative PATH
is taken from the current folder, as ingest takes it.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if live != "" {
				if len(args) != 1 {
					return fmt.Errorf("diff --live DIR takes one SNAPSHOT[:PATH], not %d", len(args))
				}
				return nil
			}
			switch len(args) {
			case 0:
				return errors.New("diff needs two snapshots (SNAPSHOT1[:PATH] SNAPSHOT2[:PATH]), or one and --live DIR")
			case 1:
				return fmt.Errorf("diff %s: compare it with what? give --live DIR, or two snapshots", args[0])
			case 2:
				return nil
			}
			return fmt.Errorf("diff takes two snapshots, not %d arguments", len(args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var dir string
			if live != "" {
				// Checked first: a DIR that is not there would otherwise
				// be compared as an empty folder, or named only by the
				// snapshot search or an lstat error, after a header.
				var err error
				if dir, err = liveRoot(live); err != nil {
					return err
				}
			}
			r, _, release, err := g.openReading(ctx, "diff")
			if err != nil {
				return err
			}
			defer release()
			a, pathA, err := g.findSnapshot(ctx, r, args[0], f, dir)
			if err != nil {
				if to, lerr := os.Readlink(dir); lerr == nil && live != "" && errors.Is(err, repo.ErrNotFound) {
					// The user likely meant the folder it points to.
					return fmt.Errorf("%w\n(--live %s is a symlink, to %s, compared as one: end it with / to compare what it points to)", err, printablePath(live), printablePath(to))
				}
				return err
			}
			w := bufio.NewWriter(stdout)
			defer w.Flush()
			opt := diff.Options{Metadata: metadata}
			emit := func(c diff.Change) error {
				n := c.New
				if n == nil {
					n = c.Old
				}
				if g.json {
					printJSONTo(w, changeJSON{MessageType: "change", Path: c.Path, PathBytes: pathBytes(c.Path), Modifier: c.Kind.Marker(), Kind: c.Kind.String(),
						Type: n.Kind.String(), SizeDelta: c.SizeDelta, MetaChanged: c.MetaChanged})
					return nil
				}
				p := c.Path
				if n.Kind == tree.KindDir {
					p += "/"
				}
				_, err := fmt.Fprintf(w, "%-5s%s\n", c.Kind.Marker(), printablePath(p))
				return err
			}
			stats := statsJSON{MessageType: "statistics", SourceSnapshot: a.ID.String(), SourcePath: pathA}
			var sum diff.Summary
			unreadable := 0
			lost := 0 // snapshot folders whose tree cannot be read
			if live != "" {
				if !g.json && !g.quiet {
					fmt.Fprintf(w, "comparing snapshot %s:%s to the live %s:\n\n", a.ID.Short(), pathA, dir)
				}
				opt.Warn = func(p string, err error) {
					unreadable++
					if g.json {
						printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": err.Error()}, "during": "diff", "item": p})
					} else {
						fmt.Fprintf(os.Stderr, "cairn: cannot read %s: %v\n", printablePath(p), err)
					}
				}
				stats.TargetPath = dir
				sum, err = diff.Live(ctx, r, a, pathA, dir, opt, emit)
				if err != nil {
					return err
				}
			} else {
				b, pathB, err := g.findSnapshot(ctx, r, args[1], f, "")
				if err != nil {
					return err
				}
				if !g.json && !g.quiet {
					fmt.Fprintf(w, "comparing snapshot %s:%s to %s:%s:\n\n", a.ID.Short(), pathA, b.ID.Short(), pathB)
				}
				stats.TargetSnapshot, stats.TargetPath = b.ID.String(), pathB
				opt.Lost = func(p string, err error) {
					lost++
					w.Flush()
					if g.json {
						printJSONTo(os.Stderr, map[string]any{"message_type": "error", "error": map[string]string{"message": err.Error()}, "during": "diff", "item": p})
					} else {
						fmt.Fprintf(os.Stderr, "cairn: %v\n", err)
					}
				}
				if sum, err = diff.Snapshots(ctx, r, a, b, pathA, pathB, opt, emit); err != nil {
					return err
				}
			}
			if g.json {
				stats.fill(sum)
				printJSONTo(w, stats)
			} else if !g.quiet {
				printDiffSummary(w, sum, metadata)
			}
			if lost > 0 {
				return fmt.Errorf("the contents of %s could not be read (named above): the comparison is incomplete", plural(lost, "folder"))
			}
			if unreadable > 0 {
				return fmt.Errorf("%s could not be read: the comparison is incomplete", plural(unreadable, "live path"))
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&metadata, "metadata", false, "also show entries whose metadata alone changed (U)")
	cmd.Flags().StringVar(&live, "live", "", "compare the snapshot with the live folder `dir`")
	return cmd
}

func printDiffSummary(w *bufio.Writer, s diff.Summary, metadata bool) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Files:       %5d new, %5d removed, %5d changed\n", s.FilesAdded, s.FilesRemoved, s.FilesChanged)
	fmt.Fprintf(w, "Dirs:        %5d new, %5d removed\n", s.DirsAdded, s.DirsRemoved)
	fmt.Fprintf(w, "Others:      %5d new, %5d removed\n", s.OthersAdded, s.OthersRemoved)
	if s.TypeChanged > 0 {
		fmt.Fprintf(w, "Type changed: %4d\n", s.TypeChanged)
	}
	if metadata {
		fmt.Fprintf(w, "Metadata:    %5d changed\n", s.MetadataOnly)
	}
	fmt.Fprintf(w, "  Added:   %s\n", formatBytes(s.AddedBytes))
	fmt.Fprintf(w, "  Removed: %s\n", formatBytes(s.RemovedBytes))
	fmt.Fprintf(w, "  Changed: +%s / -%s\n", formatBytes(s.GrownBytes), formatBytes(s.ShrunkBytes))
}

// changeJSON is one line of `diff --json`, as restic writes it (but
// without a "/" after folders' paths) plus the kind of change, the entry's
// type, size change and metadata fields.
type changeJSON struct {
	MessageType string   `json:"message_type"`
	Path        string   `json:"path"`
	PathBytes   string   `json:"path_bytes,omitempty"` // as ls --json gives it
	Modifier    string   `json:"modifier"`
	Kind        string   `json:"kind"`
	Type        string   `json:"type"` // the new entry's (the old one's when removed)
	SizeDelta   int64    `json:"size_delta"`
	MetaChanged []string `json:"meta_changed,omitempty"`
}

// diffCountsJSON counts the entries added or removed entirely; Bytes is
// the sizes of the files among them.
type diffCountsJSON struct {
	Files  int   `json:"files"`
	Dirs   int   `json:"dirs"`
	Others int   `json:"others"`
	Bytes  int64 `json:"bytes"`
}

// changedJSON is the changed files and what they grew and shrank by.
type changedJSON struct {
	Files        int   `json:"files"`
	BytesAdded   int64 `json:"bytes_added"`
	BytesRemoved int64 `json:"bytes_removed"`
}

// statsJSON is the last line of `diff --json`. SourcePath and TargetPath
// are the compared folders the changes' paths are relative to: in the
// snapshots ("/" for a whole one), TargetPath on the live filesystem with
// --live.
type statsJSON struct {
	MessageType     string         `json:"message_type"`
	SourceSnapshot  string         `json:"source_snapshot"`
	SourcePath      string         `json:"source_path"`
	TargetSnapshot  string         `json:"target_snapshot,omitempty"`
	TargetPath      string         `json:"target_path"`
	ChangedFiles    int            `json:"changed_files"`
	Modified        int            `json:"modified"`
	TypeChanged     int            `json:"type_changed"`
	MetadataChanged int            `json:"metadata_changed"`
	Added           diffCountsJSON `json:"added"`
	Removed         diffCountsJSON `json:"removed"`
	Changed         changedJSON    `json:"changed"`
}

func (j *statsJSON) fill(s diff.Summary) {
	j.ChangedFiles, j.Modified, j.TypeChanged, j.MetadataChanged = s.FilesChanged, s.Modified, s.TypeChanged, s.MetadataOnly
	j.Added = diffCountsJSON{s.FilesAdded, s.DirsAdded, s.OthersAdded, s.AddedBytes}
	j.Removed = diffCountsJSON{s.FilesRemoved, s.DirsRemoved, s.OthersRemoved, s.RemovedBytes}
	j.Changed = changedJSON{s.FilesChanged, s.GrownBytes, s.ShrunkBytes}
}

// pathBytes is p in base64 when p is not UTF-8 (which JSON strings cannot
// hold: encoding/json replaces such bytes), as `ls --json` gives it; ""
// otherwise.
func pathBytes(p string) string {
	if utf8.ValidString(p) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(p))
}
