package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo/check"
)

func newCheckCommand(g *globals) *cobra.Command {
	var readData bool
	var subset string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify the repository, and with --read-data the data in it",
		Long: `Verify the repository's structure: every index segment opens, every indexed
pack is stored with the size the index implies and a header that agrees with
it, every snapshot opens, and every tree and blob the snapshots need is
indexed and its tree decodes. Only the repository is read, never the local
cache (trees aside, which are read from the metadata cache of an S3
repository when it holds a copy that verifies; --read-data reads every pack
from the bucket).

--read-data also reads every pack whole: its bytes must hash to its name, and
every blob in it must decrypt, decompress and hash to its ID.
--read-data-subset reads a part: "10%" (a random tenth of the packs) or "n/m"
(the packs whose ID falls in the n-th of m equal ranges: run 1/30 to 30/30
on the days of a month to read everything once a month).

Every problem is reported once, naming the pack (or segment, or snapshot),
with every snapshot and path that depends on it. Packs no index segment
names, left by an interrupted ingest, are notices, not errors; one that
snapshots need is read whole, to tell an interrupted ingest's pack from
one cairn repair index --read-data left out as damaged. The exit
code is 1 when an error was found, and the last line says what to run.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			opt := check.Options{ReadData: readData}
			if readData && subset != "" {
				return errors.New("--read-data reads every pack and --read-data-subset a part of them: give one of them")
			}
			if subset != "" {
				s, err := check.ParseSubset(subset)
				if err != nil {
					return fmt.Errorf("--read-data-subset: %w", err)
				}
				opt.Subset = &s
			}
			r, lctx, release, err := g.openReading(ctx, "check")
			if err != nil {
				return err
			}
			defer release()
			var line liveLine
			if !g.json && !g.quiet && isTerminal(os.Stderr) {
				start := time.Now()
				opt.Progress = func(done, total int) {
					line.show(fmt.Sprintf("[%s] read %d of %d packs", formatDuration(time.Since(start)), done, total))
				}
			}
			res, err := check.Run(lctx, r, opt)
			line.done()
			if err != nil {
				if cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
				return err
			}
			if g.json {
				printCheckJSON(res)
			} else {
				printCheck(res, g.quiet)
			}
			if !res.OK() {
				return &exitError{code: exitFailure, err: errSilent}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "read every pack whole and verify every blob")
	cmd.Flags().StringVar(&subset, "read-data-subset", "", "read only a `part` of the packs: P% or n/m")
	return cmd
}

// describeObject names an object for a reader: "pack data/ab/…"; the
// other folders say what they hold.
func describeObject(name string) string {
	if strings.HasPrefix(name, "data/") || strings.HasPrefix(name, "tree/") {
		return "pack " + name
	}
	return name
}

// printablePath quotes a path only when it would garble a terminal line.
func printablePath(p string) string {
	if utf8.ValidString(p) && strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return p
	}
	return strconv.Quote(p)
}

func printCheck(res *check.Result, quiet bool) {
	for _, p := range res.Problems {
		printProblem("error", p)
	}
	if !quiet {
		for _, p := range res.Notices {
			printProblem("notice", p)
		}
		read := ""
		if res.PacksRead > 0 {
			read = fmt.Sprintf(" (%d read whole, %s)", res.PacksRead, formatBytes(res.BytesRead))
		}
		fmt.Fprintf(stdout, "checked %s, %s, %s%s, %s\n", plural(res.Snapshots, "snapshot"), plural(res.Segments, "index segment"),
			plural(res.Packs, "pack"), read, plural(res.Blobs, "blob"))
	}
	switch n := len(res.Problems); {
	case n > 0:
		fmt.Fprintf(stdout, "%s found: %s\n", plural(n, "error"), res.Hint())
	case !quiet:
		fmt.Fprintln(stdout, "no errors found")
	}
}

func printProblem(level string, p *check.Problem) {
	if p.Object != "" {
		fmt.Fprintf(stdout, "%s: %s: %s\n", level, describeObject(p.Object), p.Message)
	} else {
		fmt.Fprintf(stdout, "%s: %s\n", level, p.Message)
	}
	for _, a := range p.Affected {
		sn := a.Snapshot
		repaired := ""
		if !a.RepairedAs.IsZero() {
			repaired = fmt.Sprintf(" (repaired as snapshot %s)", a.RepairedAs.Short())
		}
		fmt.Fprintf(stdout, "  snapshot %s of %s (%s, %s) loses %s%s:\n", sn.ID.Short(), sn.Time.Local().Format("2006-01-02 15:04:05"), sn.Host, sn.Source, plural(len(a.Paths), "path"), repaired)
		for _, path := range a.Paths {
			fmt.Fprintf(stdout, "    %s\n", printablePath(path))
		}
	}
}

func printCheckJSON(res *check.Result) {
	emit := func(level string, p *check.Problem) {
		m := map[string]any{"message_type": level, "kind": p.Kind, "message": p.Message}
		if p.Object != "" {
			m["object"] = p.Object
		}
		if !p.Blob.IsZero() {
			m["blob"] = p.Blob.String()
		}
		if len(p.Lost) > 0 {
			m["lost_blobs"] = len(p.Lost)
		}
		if cmds := p.Fix.Commands(); len(cmds) > 0 {
			m["fix"] = cmds
		}
		var aff []map[string]any
		for _, a := range p.Affected {
			m := map[string]any{"snapshot_id": a.Snapshot.ID.String(), "time": a.Snapshot.Time, "host": a.Snapshot.Host,
				"source": a.Snapshot.Source, "paths": a.Paths}
			if !a.RepairedAs.IsZero() {
				m["repaired_as_id"] = a.RepairedAs.String()
			}
			aff = append(aff, m)
		}
		if aff != nil {
			m["affected"] = aff
		}
		printJSON(m)
	}
	for _, p := range res.Problems {
		emit("error", p)
	}
	for _, p := range res.Notices {
		emit("notice", p)
	}
	printJSON(map[string]any{"message_type": "summary", "snapshots": res.Snapshots, "index_segments": res.Segments, "packs": res.Packs,
		"packs_read": res.PacksRead, "bytes_read": res.BytesRead, "blobs": res.Blobs, "errors": len(res.Problems), "notices": len(res.Notices),
		"hint": res.Hint()})
}
