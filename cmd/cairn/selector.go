package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo"
)

// splitSelector splits "SNAP:PATH" into the snapshot selector and the path
// inside it as given ("" when absent).
func splitSelector(s string) (string, string) {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// recordedPaths are the snapshot's recorded paths as paths in its tree:
// streams record a bare name ("stdin"), which sits at the root.
func recordedPaths(sn *repo.Snapshot) []string {
	out := make([]string, len(sn.Paths))
	for i, p := range sn.Paths {
		out[i] = path.Clean("/" + p)
	}
	return out
}

// holdsPath reports whether the snapshot's recorded paths cover p (a clean
// absolute path in the snapshot): p is one of them, below one, or a folder
// on the way to one. A snapshot that recorded no paths holds everything.
func holdsPath(sn *repo.Snapshot, p string) bool {
	if p == "/" || len(sn.Paths) == 0 {
		return true
	}
	p = repo.RecordedPath(p) // a name that is not UTF-8 is recorded so
	for _, rp := range recordedPaths(sn) {
		if p == rp || strings.HasPrefix(p, rp+"/") || strings.HasPrefix(rp, p+"/") || rp == "/" {
			return true
		}
	}
	return false
}

// pathInSnapshots turns a PATH given on the command line into a path in
// the snapshots: an absolute one as it is, a relative one from the current
// folder, as ingest makes its paths absolute. The one exception is a
// relative path that snapshots of a stream recorded as it is (SNAP:stdin,
// versions stdin): that stays at the snapshot's root.
//
// A path in double quotes ("/a/new\nline"), as ls, find and diff print
// one that would garble a terminal line, is taken unquoted, so that what
// they print can be given back.
func pathInSnapshots(p string, snaps []*repo.Snapshot) (string, error) {
	if p == "" {
		return "/", nil
	}
	if strings.HasPrefix(p, `"/`) {
		if u, err := strconv.Unquote(p); err == nil {
			p = u
		}
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p), nil
	}
	root := path.Clean("/" + p)
	for _, sn := range snaps {
		for _, rp := range sn.Paths {
			if !strings.HasPrefix(rp, "/") {
				rp = path.Clean("/" + rp)
				if root == rp || strings.HasPrefix(root, rp+"/") {
					return root, nil
				}
			}
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(abs), nil
}

// findSnapshot resolves "SNAP[:PATH]" with the --host/--source/--tag
// filter, returning the snapshot and the path inside it (absolute; "/"
// when none is given). at is the path to look at when arg names none
// ("" for the root), as diff --live gives it.
//
// "latest" with a path is the newest snapshot whose recorded paths hold
// that path (restic's latest with --path), so that a newer snapshot of
// another source does not hide it; when that is not the newest snapshot
// of all, a notice says which one was taken.
func (g *globals) findSnapshot(ctx context.Context, r *repo.Repository, arg string, f filterFlags, at string) (*repo.Snapshot, string, error) {
	sel, raw := splitSelector(arg)
	if raw == "" {
		raw = at
	}
	flt := f.filter()
	if sel != "latest" {
		sn, err := r.FindSnapshot(ctx, sel, flt)
		if err != nil {
			return nil, "", err
		}
		p, err := pathInSnapshots(raw, []*repo.Snapshot{sn})
		return sn, p, err
	}
	// A snapshot that cannot be read might have been the latest.
	all, err := r.Snapshots(ctx, func(err error) {
		g.warnf("skipping a snapshot that cannot be read, so latest is chosen among the others: %v", err)
	})
	if err != nil {
		return nil, "", err
	}
	var matching []*repo.Snapshot
	for _, sn := range all {
		if flt.Match(sn) {
			matching = append(matching, sn)
		}
	}
	if len(matching) == 0 {
		// The library's error names the filter.
		_, err := r.FindSnapshot(ctx, sel, flt)
		return nil, "", err
	}
	newest := matching[len(matching)-1]
	p, err := pathInSnapshots(raw, matching)
	if err != nil {
		return nil, "", err
	}
	if p == "/" {
		return newest, p, nil
	}
	for i := len(matching) - 1; i >= 0; i-- {
		sn := matching[i]
		if !holdsPath(sn, p) {
			continue
		}
		if sn != newest {
			g.notice("cairn: using snapshot %s (%s, %s), the latest holding %s; the newest, %s (%s), does not hold it",
				sn.ID.Short(), sn.Time.Local().Format("2006-01-02 15:04:05"), describeSource(sn), printablePath(p), newest.ID.Short(), describeSource(newest))
		}
		return sn, p, nil
	}
	return nil, "", fmt.Errorf("no snapshot%s holds %s (the newest, %s, holds %s): %w",
		f.filter().Describe(), printablePath(p), newest.ID.Short(), printableList(recordedPaths(newest), ", "), repo.ErrNotFound)
}

func describeSource(sn *repo.Snapshot) string {
	return fmt.Sprintf("host %s, source %s", printablePath(sn.Host), printablePath(sn.Source))
}

// oneSelector checks that a command taking one SNAPSHOT[:PATH] got exactly
// one, with a hint for the usual slip: the path as a second argument.
// optional allows none.
func oneSelector(optional bool) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0 && !optional:
			return fmt.Errorf("%s needs a snapshot: SNAPSHOT[:PATH], such as latest or latest:/etc", cmd.CommandPath())
		case len(args) == 2 && !strings.Contains(args[0], ":"):
			return fmt.Errorf("%s takes one SNAPSHOT[:PATH]: use %s:%s", cmd.CommandPath(), args[0], args[1])
		case len(args) > 1:
			return fmt.Errorf("%s takes one SNAPSHOT[:PATH], not %d arguments", cmd.CommandPath(), len(args))
		}
		return nil
	}
}

// skipUnreadable says that a snapshot that cannot be read was left out of
// a listing: a warning, so that it follows --json and is not hidden by -q.
func (g *globals) skipUnreadable(err error) {
	g.warnf("skipping snapshot: %v", err)
}

// warnf prints a warning on stderr (as JSON with --json), even with --quiet.
func (g *globals) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if g.json {
		printJSONTo(os.Stderr, map[string]any{"message_type": "warning", "message": msg})
		return
	}
	fmt.Fprintln(os.Stderr, daemon.Leveled(daemon.LevelWarning, "cairn: "+msg))
}
