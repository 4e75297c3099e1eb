package daemon

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/check"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/forget"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/prune"
)

// runSource runs one source: ping start, before hooks in order (the first
// that fails skips the ingest), the ingest under a shared lock, retention
// (only when a snapshot was written), after hooks with the outcome in
// their environment, ping success or failure, metrics, and (when a
// snapshot was written) the copies into copy_to. w (when not nil) hears
// of each path the ingest cannot read or saves with a time clamped. A run that wrote no snapshot
// as nothing changed (skip_if_unchanged) is a success.
func (d *Daemon) runSource(ctx context.Context, src Source, w *watch) RunResult {
	cfg := d.config()
	res := RunResult{Source: src.Name, Start: time.Now().Round(0)}
	pingURL := src.PingURL
	if pingURL == "" && cfg.Metrics != nil {
		pingURL = cfg.Metrics.PingURL
	}
	d.ping(pingURL, "/start")
	d.logf("source %s: starting", src.Name)

	// The timeout bounds the before hooks and the ingest; retention,
	// after hooks and copies do not count.
	runCtx, cancelRun := ctx, context.CancelFunc(func() {})
	if src.Timeout > 0 {
		runCtx, cancelRun = context.WithTimeout(ctx, time.Duration(src.Timeout))
	}
	timedOut := func(err error) error {
		if errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("timed out after %s, no snapshot written: %w", src.Timeout, err)
		}
		return err
	}
	var err error
	for i, h := range src.Before {
		if err = runHook(runCtx, h, []string{"CAIRN_SOURCE=" + src.Name}, d.logf, fmt.Sprintf("source %s: before hook %d", src.Name, i+1)); err != nil {
			err = timedOut(fmt.Errorf("before hook %d failed, ingest skipped: %w", i+1, err))
			break
		}
	}
	var sn, skipped *repo.Snapshot // skipped: the snapshot not written
	var unreadable int64
	if err == nil {
		var ir *ingest.Result
		if ir, err = d.ingestSource(runCtx, cfg, src, w); err != nil {
			err = timedOut(err)
		} else {
			unreadable = ir.Unreadable
			if ir.Skipped {
				skipped, res.Skipped, res.Unreadable = ir.Snapshot, true, unreadable
			} else {
				sn = ir.Snapshot
			}
		}
	}
	cancelRun()
	if sn != nil {
		res.SnapshotID, res.SnapshotTime = sn.ID.String(), sn.Time
		if s := sn.Summary; s != nil {
			res.AddedBytes, res.Files, res.Bytes = s.DataAdded, s.TotalFiles, s.TotalBytes
		}
		res.Unreadable = unreadable
		d.committed()
		if src.Retention != nil {
			n, rerr := d.applyRetention(ctx, cfg.Host, src)
			res.Removed = n
			if rerr != nil {
				err = fmt.Errorf("snapshot %s saved, but retention failed: %w", sn.ID.Short(), rerr)
			} else if n > 0 {
				d.committed()
			}
		}
	}
	res.End = time.Now().Round(0)
	res.Duration = res.End.Sub(res.Start).Seconds()
	switch {
	case err != nil:
		res.Outcome, res.ExitCode, res.Error = OutcomeFailure, d.deps.ExitCode(err), err.Error()
		if res.ExitCode == exitOK || res.ExitCode == exitPartial {
			res.ExitCode = exitFailure
		}
	case unreadable > 0:
		res.Outcome, res.ExitCode = OutcomePartial, exitPartial
		paths := "paths"
		if unreadable == 1 {
			paths = "path"
		}
		if skipped != nil {
			res.Error = fmt.Sprintf("no snapshot written (nothing changed since %s), but %d %s could not be read", skipped.Parent.Short(), unreadable, paths)
		} else {
			res.Error = fmt.Sprintf("snapshot %s saved, but %d %s could not be read", sn.ID.Short(), unreadable, paths)
		}
	default:
		res.Outcome, res.ExitCode = OutcomeSuccess, exitOK
	}

	env := []string{
		"CAIRN_SOURCE=" + src.Name,
		"CAIRN_OUTCOME=" + res.Outcome,
		"CAIRN_EXIT_CODE=" + strconv.Itoa(res.ExitCode),
		"CAIRN_ERROR=" + res.Error,
		"CAIRN_SNAPSHOT_ID=" + res.SnapshotID,
		"CAIRN_DURATION_SECONDS=" + strconv.FormatFloat(res.Duration, 'f', 3, 64),
		"CAIRN_ADDED_BYTES=" + strconv.FormatInt(res.AddedBytes, 10),
	}
	// After hooks run even when the daemon is aborting the run: they
	// are how the outside world learns of the failure.
	hookCtx := context.WithoutCancel(ctx)
	for i, h := range src.After {
		if herr := runHook(hookCtx, h, env, d.logf, fmt.Sprintf("source %s: after hook %d", src.Name, i+1)); herr != nil {
			d.logf("%ssource %s: after hook %d failed: %v", Level(LevelErr), src.Name, i+1, herr)
		}
	}
	switch {
	case res.Outcome == OutcomeFailure:
		d.ping(pingURL, "/fail")
		d.logf("%ssource %s: failure after %.1fs: %s", Level(LevelErr), src.Name, res.Duration, res.Error)
	case skipped != nil:
		d.ping(pingURL, "")
		d.logf("source %s: %s after %.1fs: nothing changed since snapshot %s, none written", src.Name, res.Outcome, res.Duration, skipped.Parent.Short())
	default:
		d.ping(pingURL, "")
		level := ""
		if res.Outcome == OutcomePartial {
			level = Level(LevelWarning)
		}
		d.logf("%ssource %s: %s after %.1fs: snapshot %s, %s added", level, src.Name, res.Outcome, res.Duration, sn.ID.Short(), plural(res.AddedBytes, "byte"))
	}
	// A run a reload removed its source during records nothing: its
	// series are gone with it.
	if slices.ContainsFunc(d.config().Sources, func(c Source) bool { return c.Name == src.Name }) {
		d.metrics.backup(cfg.Host, res)
	}
	// Copies last: after hooks (which may restart what before hooks
	// stopped) and pings must not wait for a slow offsite copy, and
	// whatever happens to them the run's outcome is the ingest's.
	if sn != nil && len(src.CopyTo) > 0 {
		res.Copies = d.copySource(ctx, cfg, src)
	}
	return res
}

// ingestSource ingests a source's paths, or its command's output, under a
// shared lock. A command that fails writes no snapshot.
func (d *Daemon) ingestSource(ctx context.Context, cfg *Config, src Source, w *watch) (*ingest.Result, error) {
	opt := ingest.Options{Host: cfg.Host, Source: src.Name, Tags: src.Tags, ExcludeCaches: src.ExcludeCaches,
		ExcludeIfPresent: src.ExcludeIfPresent, OneFileSystem: src.OneFileSystem, Version: d.deps.Version,
		IgnoreInode: src.IgnoreInode, IgnoreCtime: src.IgnoreCtime, SkipIfUnchanged: src.SkipIfUnchanged}
	opt.ExcludeLargerThan, _ = ParseBytes(src.ExcludeLargerThan) // checked when the config was loaded
	opt.Excludes = append(opt.Excludes, src.Exclude...)
	for _, ef := range src.ExcludeFile {
		ps, err := filter.ReadFile(ef)
		if err != nil {
			return nil, fmt.Errorf("exclude_file: %w", err)
		}
		opt.Excludes = append(opt.Excludes, ps...)
	}
	opt.IExcludes = append(opt.IExcludes, src.IExclude...)
	for _, ef := range src.IExcludeFile {
		ps, err := filter.ReadFile(ef)
		if err != nil {
			return nil, fmt.Errorf("iexclude_file: %w", err)
		}
		opt.IExcludes = append(opt.IExcludes, ps...)
	}
	opt.Notice = func(path, msg string) {
		d.logf("source %s: %s: %s", src.Name, path, msg)
		w.onNotice(path, msg)
	}
	var unreadable atomic.Int64
	opt.Warn = func(path string, err error) {
		unreadable.Add(1)
		d.logf("%ssource %s: cannot read %s: %v", Level(LevelWarning), src.Name, path, err)
		w.onWarn(path, err.Error())
	}

	lock, err := d.r.Lock(ctx, false, "ingest "+src.Name)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	var child *exec.Cmd
	var waitChild func() error
	if len(src.Command) > 0 {
		child = groupCommand(lock.Context(), src.Command)
		logger := &lineLogger{logf: d.logf, prefix: "source " + src.Name + ": command: "}
		child.Stderr = logger
		out, err := child.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if waitChild, err = startLogged(child, logger); err != nil {
			return nil, fmt.Errorf("start %s: %w", src.Command[0], err)
		}
		opt.Stdin, opt.StdinName = out, src.StdinName
		opt.BeforeCommit = func() error {
			err := waitChild()
			if errors.Is(err, exec.ErrWaitDelay) {
				// It succeeded, and its output was all read; what
				// it left behind holding its stderr is no reason to
				// lose the dump (as with ingest --stdin-from-command).
				d.logf("source %s: command: exited, leaving a process that holds its stderr; no longer logging it", src.Name)
				err = nil
			}
			if err != nil {
				return fmt.Errorf("command %s failed (%v): no snapshot written", ShellWords(src.Command), err)
			}
			return nil
		}
	} else {
		opt.Paths = src.Paths
	}
	res, err := ingest.Run(lock.Context(), d.r, opt)
	if child != nil && child.ProcessState == nil {
		syscallKillGroup(child)
		waitChild()
	}
	if err != nil {
		if errors.Is(err, ingest.ErrInterrupted) && d.work.Err() != nil {
			return nil, errors.New("aborted: the daemon is stopping")
		}
		return nil, err
	}
	return res, nil
}

// applyRetention forgets the snapshots of this host and source that the
// source's retention policy does not keep.
func (d *Daemon) applyRetention(ctx context.Context, host string, src Source) (int, error) {
	policy, err := src.Retention.Policy()
	if err != nil {
		return 0, err
	}
	lock, err := d.r.Lock(ctx, false, "forget "+src.Name)
	if err != nil {
		return 0, err
	}
	defer lock.Unlock()
	return d.forget(lock.Context(), d.r, host, src.Name, policy, "source "+src.Name+": retention")
}

// forget removes the snapshots of host and source in r that policy does
// not keep, under a lock the caller holds; what names the work in the
// log.
func (d *Daemon) forget(ctx context.Context, r *repo.Repository, host, source string, policy forget.Policy, what string) (int, error) {
	all, err := r.Snapshots(ctx, func(err error) { d.logf("%s: skipping snapshot: %v", what, err) })
	if err != nil {
		return 0, err
	}
	var group []*repo.Snapshot
	for _, sn := range all {
		if sn.Host == host && sn.Source == source {
			group = append(group, sn)
		}
	}
	res, ok := applySeries(group, policy)
	if !ok {
		return 0, errors.New("the policy keeps none of the snapshots: nothing removed")
	}
	sids := make([]id.ID, len(res.Remove))
	for i, sn := range res.Remove {
		sids[i] = sn.ID
	}
	if n, err := r.RemoveSnapshots(ctx, sids); err != nil {
		if n < len(sids) {
			err = fmt.Errorf("removing snapshot %s: %w", sids[n].Short(), err)
		}
		return n, err
	}
	if len(res.Remove) > 0 {
		d.logf("%s removed %s, kept %d", what, plural(len(res.Remove), "snapshot"), len(res.Keep))
	}
	return len(res.Remove), nil
}

// applySeries applies policy to each series of list, the snapshots of one
// host and source: those of each set of paths apart (the streams of each
// name among them), as forget's default grouping does, so that the dumps
// of two databases under one source are not thinned as one series, and
// the snapshots an ingest saved without a path that was missing (a disk
// not mounted: it saves the others) do not crowd out, run after run, the
// last ones that hold it. ok is false when it keeps none of a series.
func applySeries(list []*repo.Snapshot, policy forget.Policy) (res forget.Result, ok bool) {
	ok = true
	for _, g := range forget.GroupSnapshots(list, forget.DefaultGroupBy) {
		r := forget.Apply(g.Snapshots, policy, nil, time.Now())
		ok = ok && len(r.Keep) > 0
		res.Keep = append(res.Keep, r.Keep...)
		res.Remove = append(res.Remove, r.Remove...)
	}
	return res, ok
}

// runCheck checks the repository's structure, and reads the configured
// part of the packs.
func (d *Daemon) runCheck(ctx context.Context) RunResult {
	res := RunResult{Source: "check", Start: time.Now().Round(0)}
	err := func() error {
		subset, err := d.config().Check.Subset()
		if err != nil {
			return err
		}
		lock, err := d.r.Lock(ctx, false, "check")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		cr, err := check.Run(lock.Context(), d.r, check.Options{Subset: subset})
		if err != nil {
			return err
		}
		for _, p := range cr.Problems {
			d.logf("check: error: %s %s", p.Object, p.Message)
		}
		if !cr.OK() {
			return fmt.Errorf("%s found: %s", plural(len(cr.Problems), "error"), cr.Hint())
		}
		return nil
	}()
	return d.finishJob(res, err)
}

// runPrune prunes under the exclusive lock, with the default options.
func (d *Daemon) runPrune(ctx context.Context) RunResult {
	res := RunResult{Source: "prune", Start: time.Now().Round(0)}
	err := func() error {
		lock, err := d.r.Lock(ctx, true, "prune")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		opt := prune.DefaultOptions()
		opt.Lock = lock
		opt.Log = func(format string, args ...any) { d.logf("prune: "+format, args...) }
		st, err := prune.Run(lock.Context(), d.r, opt)
		if err == nil {
			d.logf("prune: freed %s, deleted %s, marked %s for deletion", plural(st.BytesFreed, "byte"), plural(st.PacksDeleted, "pack"), plural(st.MarkedPacks, "pack"))
		}
		return err
	}()
	return d.finishJob(res, err)
}

func (d *Daemon) finishJob(res RunResult, err error) RunResult {
	res.End = time.Now().Round(0)
	res.Duration = res.End.Sub(res.Start).Seconds()
	if err != nil {
		res.Outcome, res.ExitCode, res.Error = OutcomeFailure, exitFailure, err.Error()
		d.logf("%s: failed: %v", res.Source, err)
	} else {
		res.Outcome = OutcomeSuccess
		d.logf("%s: done in %.1fs", res.Source, res.Duration)
	}
	return res
}
