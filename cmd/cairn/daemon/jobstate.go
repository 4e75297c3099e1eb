package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// The scheduled check and prune leave no trace in the repository that
// says when they last ran, as a source's snapshots do. The daemon keeps
// the start of each one's last successful run in a small file beside the
// local index, so that a restart (a reboot, an upgrade) neither puts them
// off by a whole interval nor forgets a cron time missed while it was
// down: firstRun plans them as it plans sources.

// jobStatePath is the file of the repository's check and prune times, or
// "" when the daemon keeps none.
func (d *Daemon) jobStatePath() string {
	if d.deps.StateDir == "" || d.r == nil || d.r.Config() == nil || d.r.Config().ID == "" {
		return ""
	}
	return filepath.Join(d.deps.StateDir, "daemon-jobs-"+d.r.Config().ID+".json")
}

// loadJobTimes reads the last successful start of the check and prune.
func (d *Daemon) loadJobTimes() map[string]time.Time {
	out := map[string]time.Time{}
	p := d.jobStatePath()
	if p == "" {
		return out
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if !os.IsNotExist(err) {
			d.logf("reading when check and prune last ran: %v", err)
		}
		return out
	}
	if err := json.Unmarshal(b, &out); err != nil {
		d.logf("reading when check and prune last ran: %s: %v", p, err)
		return map[string]time.Time{}
	}
	return out
}

// saveJobTimes writes times (the caller's, not shared) in place of the
// file's.
func (d *Daemon) saveJobTimes(times map[string]time.Time) {
	p := d.jobStatePath()
	if p == "" {
		return
	}
	b, err := json.Marshal(times)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(p), 0o700)
	}
	if err == nil {
		tmp := p + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, p)
		}
	}
	if err != nil {
		d.logf("saving when check and prune last ran: %v", err)
	}
}
