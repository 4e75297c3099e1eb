package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/transfer"
)

// fromFlags name copy's source repository.
type fromFlags struct {
	repo, passwordFile, passwordCommand string
}

func newCopyCommand(g *globals) *cobra.Command {
	var from fromFlags
	var f filterFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "copy --from-repo SOURCE [SNAPSHOT...]",
		Short: "Copy snapshots from another repository into this one",
		Long: `Copy snapshots from the source repository (--from-repo) into the repository
(-r), as restic's copy does: the snapshots given (ID prefixes, or latest), or,
when none is given, every snapshot the filter flags select. A snapshot copied
before (the destination has one recording it as copied_from) is skipped, so
running the same copy again, from a timer, copies only what is new.

The two repositories have their own keys: each data blob is read, decrypted,
hashed under the destination's key and stored there unless the destination
has it already. A snapshot copied after an earlier one of the same host and
source reads only what changed since: the rest is taken from the earlier
copy. Each copied snapshot is committed when its data is stored, so an
interrupted copy keeps the snapshots it finished, and the data it stored of
the one it was on is reused by the next run (all of it after Ctrl-C or
SIGTERM; after a kill, up to its last checkpoint, every 256 MiB or 3
minutes, as for ingest); cairn prune removes the rest.

The source's password comes from --from-password-file, --from-password-command,
CAIRN_FROM_PASSWORD_FILE, CAIRN_FROM_PASSWORD_COMMAND, CAIRN_FROM_PASSWORD, or
the terminal. Both repositories are locked shared: copying runs beside
ingests, not beside a prune of either. With --no-lock, as in restic, the
source is not locked (a repository on read-only media), the destination is.

The copies keep their chunk boundaries, which come from the source's chunker:
files ingested into the destination itself later do not share chunks with
them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			from.passwordFile, from.passwordCommand = givenOverEnv(cmd, "from-password-file", from.passwordFile, "from-password-command", from.passwordCommand)
			return runCopy(cmd.Context(), g, from, f, dryRun, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from.repo, "from-repo", os.Getenv("CAIRN_FROM_REPOSITORY"), "source repository `location` (env CAIRN_FROM_REPOSITORY)")
	fl.StringVar(&from.passwordFile, "from-password-file", os.Getenv("CAIRN_FROM_PASSWORD_FILE"), "read the source's password from `file` (env CAIRN_FROM_PASSWORD_FILE)")
	fl.StringVar(&from.passwordCommand, "from-password-command", os.Getenv("CAIRN_FROM_PASSWORD_COMMAND"), "run `command` (no shell) for the source's password (env CAIRN_FROM_PASSWORD_COMMAND)")
	fl.BoolVarP(&dryRun, "dry-run", "n", false, "read what would be copied and say what it would add; store nothing")
	f.register(cmd)
	return cmd
}

// copyReport is what copy prints of one snapshot.
type copyReport struct {
	MessageType string `json:"message_type"` // "copied_snapshot", "skipped_snapshot"
	Source      string `json:"source_snapshot_id"`
	ID          string `json:"snapshot_id,omitempty"`
	BlobsRead   int    `json:"blobs_read,omitempty"`
	BytesRead   int64  `json:"bytes_read,omitempty"`
	DataAdded   int64  `json:"data_added,omitempty"`
	StoredAdded int64  `json:"data_added_packed,omitempty"`
	DryRun      bool   `json:"dry_run,omitempty"`
}

func runCopy(ctx context.Context, g *globals, from fromFlags, f filterFlags, dryRun bool, args []string) error {
	if from.repo == "" {
		return fmt.Errorf("no source repository: give --from-repo or set CAIRN_FROM_REPOSITORY: %w", repo.ErrNoRepository)
	}
	sg := *g
	sg.repo, sg.passwordFile, sg.passwordCommand = from.repo, from.passwordFile, from.passwordCommand
	sg.passwordEnv, sg.label, sg.flagPrefix = "CAIRN_FROM_PASSWORD", "source repository", "from-"

	dst, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer dst.Close()
	src, err := sg.open(ctx)
	if err != nil {
		return fmt.Errorf("source repository %s: %w", from.repo, err)
	}
	defer src.Close()
	if src.Config().ID == dst.Config().ID {
		return fmt.Errorf("%s and %s are the same repository (ID %s): nothing to copy", from.repo, g.repo, src.Config().ID)
	}
	// As in restic, --no-lock leaves only the source unlocked (a
	// repository on read-only media): the destination is written, under
	// a lock all the same.
	dg := *g
	dg.noLock = false
	dlock, err := dg.lock(ctx, dst, false, "copy")
	if err != nil {
		return err
	}
	defer g.unlock(dlock)
	// Either lease lost stops the copy.
	ctx, cancel := context.WithCancel(dlock.Context())
	defer cancel()
	if !g.noLock {
		slock, err := sg.lock(ctx, src, false, "copy from")
		if err != nil {
			if repo.LockUnwritable(err) {
				err = fmt.Errorf("%w\ncopy only reads the source repository, but its lock must be written there: --no-lock copies from it without one (the destination is locked all the same)", err)
			}
			return fmt.Errorf("source repository: %w", err)
		}
		defer g.unlock(slock)
		stop := context.AfterFunc(slock.Context(), cancel)
		defer stop()
	}

	snaps, err := selectSnapshots(ctx, g, src, args, f)
	if err != nil {
		return fmt.Errorf("source repository: %w", err)
	}
	// The saver outlives an interrupt, to index what it stored (b.Fatal).
	saver := dst.NewSaver(context.WithoutCancel(ctx), 2)
	if dryRun {
		saver = dst.NewDryRunSaver(ctx)
	}
	b, err := transfer.NewBatch(ctx, src, dst, saver, dryRun, func(err error) { g.warnf("skipping a snapshot of the destination that cannot be read: %v", err) })
	if err != nil {
		return err
	}
	var line liveLine
	progress := isTerminal(os.Stderr) && !g.quiet && !g.json
	var lastShow time.Time
	var copied, skipped int
	var failed []error
	for _, sn := range snaps {
		if d := b.CopyOf(sn.ID); d != nil {
			skipped++
			if g.json {
				printJSON(copyReport{MessageType: "skipped_snapshot", Source: sn.ID.String(), ID: d.ID.String()})
			} else if !g.quiet {
				fmt.Fprintf(stdout, "snapshot %s of %s at %s: copied before, as %s\n", sn.ID.Short(), pathsText(sn), sn.Time.Local().Format("2006-01-02 15:04:05"), d.ID.Short())
			}
			continue
		}
		start := time.Now()
		if progress {
			b.Copier.OnProgress = func(p transfer.Progress) {
				if time.Since(lastShow) < 200*time.Millisecond {
					return
				}
				lastShow = time.Now()
				line.show(fmt.Sprintf("snapshot %s: %s of %s read, %s/s", sn.ID.Short(), formatBytes(p.Bytes), formatBytes(p.BytesTotal), formatBytes(int64(rate(p.Bytes, time.Since(start))))))
			}
		}
		c, err := b.Copy(ctx, sn)
		line.done()
		if err != nil {
			if b.Fatal(ctx, err) {
				// Storing into the destination failed, or the copy was
				// stopped: the snapshots after this one would fail too.
				return errors.Join(append(failed, err, fmt.Errorf("%d copied before it", copied))...)
			}
			failed = append(failed, err)
			g.warnf("%v", err)
			continue
		}
		copied++
		nsn := c.Snapshot
		rep := copyReport{MessageType: "copied_snapshot", Source: sn.ID.String(), ID: nsn.ID.String(),
			BlobsRead: c.BlobsRead, BytesRead: c.BytesRead, DataAdded: c.DataAdded, StoredAdded: c.StoredAdded, DryRun: dryRun}
		if dryRun {
			rep.ID = ""
		}
		switch {
		case g.json:
			printJSON(rep)
		case g.quiet:
		case dryRun:
			fmt.Fprintf(stdout, "snapshot %s of %s at %s: would read %s, add %s (%s stored)\n", sn.ID.Short(), pathsText(sn), sn.Time.Local().Format("2006-01-02 15:04:05"),
				formatBytes(rep.BytesRead), formatBytes(rep.DataAdded), formatBytes(rep.StoredAdded))
		default:
			fmt.Fprintf(stdout, "snapshot %s of %s at %s: copied as %s, read %s, added %s (%s stored)\n", sn.ID.Short(), pathsText(sn), sn.Time.Local().Format("2006-01-02 15:04:05"),
				nsn.ID.Short(), formatBytes(rep.BytesRead), formatBytes(rep.DataAdded), formatBytes(rep.StoredAdded))
		}
	}
	total := saver.Stats()
	if g.json {
		printJSON(map[string]any{"message_type": "summary", "snapshots_copied": copied, "snapshots_skipped": skipped,
			"snapshots_failed": len(failed), "data_added": total.DataAdded, "data_added_packed": total.StoredAdded, "dry_run": dryRun})
	} else if !g.quiet {
		verb := "copied"
		if dryRun {
			verb = "would be copied"
		}
		fmt.Fprintf(stdout, "%s %s, %d copied before, %s added (%s stored)\n", plural(copied, "snapshot"), verb, skipped, formatBytes(total.DataAdded), formatBytes(total.StoredAdded))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s not copied: %w", plural(len(failed), "snapshot"), errors.Join(failed...))
	}
	return nil
}

// pathsText names what a snapshot holds, for a line about it.
func pathsText(sn *repo.Snapshot) string {
	if len(sn.Paths) == 0 {
		return "(no paths)"
	}
	return strings.Join(sn.Paths, " ")
}
