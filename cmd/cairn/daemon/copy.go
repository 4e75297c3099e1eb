package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/forget"
	"github.com/cairn-backup/cairn/repo/transfer"
)

// copySource copies the snapshots of src (of this host) that each of its
// copy_to lacks into it, one destination after the other, as cairn copy
// does. A destination that fails (unreachable, a wrong password, a
// damaged blob) is reported in the log, the metrics and the result, and
// the next run tries again: what was copied stays, the rest follows.
func (d *Daemon) copySource(ctx context.Context, cfg *Config, src Source) []CopyResult {
	out := make([]CopyResult, 0, len(src.CopyTo))
	for _, name := range src.CopyTo {
		res := CopyResult{Destination: name, Start: time.Now().Round(0)}
		what := fmt.Sprintf("source %s: copy to %s", src.Name, name)
		var err error
		if dest := cfg.Copy(name); dest == nil {
			err = fmt.Errorf("no copy named %q in the config", name) // Load checked it; never here
		} else {
			err = d.copyInto(ctx, cfg, src, dest, &res, what)
		}
		if err != nil && ctx.Err() != nil && d.work.Err() != nil {
			err = fmt.Errorf("aborted: the daemon is stopping (%v)", err)
		}
		res.End = time.Now().Round(0)
		res.Duration = res.End.Sub(res.Start).Seconds()
		if err != nil {
			res.Outcome, res.Error = OutcomeFailure, err.Error()
			d.logf("%s%s: failure after %.1fs (%s copied, %s added; the next run tries again): %v",
				Level(LevelErr), what, res.Duration, plural(res.Copied, "snapshot"), plural(res.AddedBytes, "byte"), err)
		} else {
			res.Outcome = OutcomeSuccess
			d.logf("%s: success after %.1fs: %s copied, %s added", what, res.Duration, plural(res.Copied, "snapshot"), plural(res.AddedBytes, "byte"))
		}
		d.metrics.copied(cfg.Host, src.Name, res)
		out = append(out, res)
	}
	return out
}

// copyInto copies the snapshots of src that dest lacks into dest, adding
// to res as it goes, then applies src's retention there when dest asks
// for it.
func (d *Daemon) copyInto(ctx context.Context, cfg *Config, src Source, dest *Copy, res *CopyResult, what string) error {
	// One copy into a destination at a time: two sources copying into
	// one repository would open it, and its local index, twice.
	mu, _ := d.copying.LoadOrStore(dest.Name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	if d.deps.OpenCopy == nil {
		return errors.New("this daemon cannot open other repositories")
	}
	dst, err := d.deps.OpenCopy(ctx, cfg, dest)
	if err != nil {
		if strings.Contains(err.Error(), dest.Repository) {
			return err
		}
		return fmt.Errorf("%s: %w", dest.Repository, err)
	}
	defer dst.Close()
	if dst.Config().ID == d.r.Config().ID {
		return fmt.Errorf("%s is the daemon's own repository (ID %s): nothing to copy", dest.Repository, dst.Config().ID)
	}
	var policy *forget.Policy
	if dest.ApplyRetention && src.Retention != nil {
		p, err := src.Retention.Policy()
		if err != nil {
			return err
		}
		policy = &p
	}

	dlock, err := dst.Lock(ctx, false, "copy of "+cfg.Host+"/"+src.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", dest.Repository, err)
	}
	defer dlock.Unlock()
	slock, err := d.r.Lock(ctx, false, "copy of "+src.Name+" to "+dest.Name)
	if err != nil {
		return err
	}
	defer slock.Unlock()
	// Either lease lost stops the copy.
	ctx, cancel := context.WithCancel(dlock.Context())
	defer cancel()
	stop := context.AfterFunc(slock.Context(), cancel)
	defer stop()

	// The saver outlives an interrupt, to index what it stored (b.Fatal).
	saver := dst.NewSaver(context.WithoutCancel(ctx), 2)
	b, err := transfer.NewBatch(ctx, d.r, dst, saver, false, func(err error) {
		d.logf("%s: skipping a snapshot of the destination that cannot be read: %v", what, err)
	})
	if err != nil {
		return err
	}
	var todo []*repo.Snapshot
	for _, sn := range b.Source() {
		if sn.Host == cfg.Host && sn.Source == src.Name && b.CopyOf(sn.ID) == nil {
			todo = append(todo, sn)
		}
	}
	if policy != nil {
		var skipped int
		todo, skipped = keptAfterCopy(todo, b.Destination(), cfg.Host, src.Name, *policy)
		if skipped > 0 {
			d.logf("%s: %s not copied: the retention policy would forget them in the destination at once", what, plural(skipped, "snapshot"))
		}
	}

	var failed []error
	for _, sn := range todo {
		c, err := b.Copy(ctx, sn)
		if err != nil {
			if b.Fatal(ctx, err) {
				// Storing into the destination failed, or the copy
				// was stopped: the snapshots after this one would
				// fail too.
				res.Failed++
				return oneLine(append(failed, err))
			}
			res.Failed++
			failed = append(failed, err)
			d.logf("%s: %v", what, err)
			continue
		}
		res.Copied++
		res.AddedBytes += c.DataAdded
		res.StoredBytes += c.StoredAdded
		d.logf("%s: snapshot %s of %s copied as %s: %s read, %s added", what, sn.ID.Short(),
			sn.Time.Local().Format("2006-01-02 15:04:05"), c.Snapshot.ID.Short(), plural(c.BytesRead, "byte"), plural(c.DataAdded, "byte"))
	}
	if policy != nil {
		n, err := d.forget(ctx, dst, cfg.Host, src.Name, *policy, what+": retention")
		res.Removed = n
		if err != nil {
			failed = append(failed, fmt.Errorf("retention in the destination: %w", err))
		}
	}
	return oneLine(failed)
}

// oneLine joins errs into one error of one line, for status and the log;
// nil when there are none.
func oneLine(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// keptAfterCopy leaves out of todo (snapshots of host and source to copy)
// those that policy, applied to the destination's snapshots of host and
// source with todo's copies among them, would forget at once: copying
// them would be wasted, and the next run would copy them again.
func keptAfterCopy(todo, dest []*repo.Snapshot, host, source string, policy forget.Policy) ([]*repo.Snapshot, int) {
	var group []*repo.Snapshot
	for _, sn := range dest {
		if sn.Host == host && sn.Source == source {
			group = append(group, sn)
		}
	}
	group = append(group, todo...)
	kept := map[*repo.Snapshot]bool{}
	res, _ := applySeries(group, policy)
	for _, k := range res.Keep {
		kept[k.Snapshot] = true
	}
	var out []*repo.Snapshot
	for _, sn := range todo {
		if kept[sn] {
			out = append(out, sn)
		}
	}
	return out, len(todo) - len(out)
}
