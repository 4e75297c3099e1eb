package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Different sources run at once up to the concurrency limit, never more.
func TestRunnerConcurrencyLimit(t *testing.T) {
	d, _ := newTestDaemon(t, &Config{Concurrency: 2, Sources: []Source{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}})
	r := d.runner
	var mu sync.Mutex
	running, most := 0, 0
	release := make(chan struct{})
	r.runFn = func(kind jobKind, name string, src Source, _ *watch) RunResult {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return RunResult{Source: name, Outcome: OutcomeSuccess}
	}
	var chs []<-chan RunResult
	for _, n := range []string{"a", "b", "c", "d"} {
		ch, err := r.request(n)
		if err != nil {
			t.Fatal(err)
		}
		chs = append(chs, ch)
	}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return running == 2 })
	time.Sleep(50 * time.Millisecond) // a third would have started by now
	sources, _ := r.status(d.config())
	queued := 0
	for _, s := range sources {
		if s.Queued {
			queued++
		}
	}
	if queued != 2 {
		t.Errorf("status shows %d queued, want 2: %+v", queued, sources)
	}
	close(release)
	for _, ch := range chs {
		<-ch
	}
	if most != 2 {
		t.Fatalf("at most %d ran at once, want 2", most)
	}
}

// The scheduled check (reading a part of the packs) and prune run on
// their intervals, one at a time with the sources.
func TestScheduledCheckAndPrune(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte(strings.Repeat("data ", 1000)), 0o644)
	src := Source{Name: "s", Paths: []string{dir}, Retention: &Retention{KeepLast: 1}}
	cfg := &Config{Host: "h", Sources: []Source{src},
		Check: &Check{Schedule: "300ms", ReadDataSubset: "100%"}, Prune: &Prune{Schedule: "400ms"}}
	d, log := newTestDaemon(t, cfg)
	d.runner.start()
	ch, err := d.runner.request("s")
	if err != nil {
		t.Fatal(err)
	}
	if res := <-ch; res.Outcome != OutcomeSuccess {
		t.Fatalf("run: %+v", res)
	}
	ch, _ = d.runner.request("s")
	<-ch // retention forgets the first snapshot: prune has work
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, jobs := d.runner.status(d.config())
		ok := 0
		for _, j := range jobs {
			if j.LastRun != nil && j.LastRun.Outcome == OutcomeSuccess && j.NextRun != nil && j.Schedule != "" {
				ok++
			}
			if j.LastRun != nil && j.LastRun.Outcome == OutcomeFailure {
				t.Fatalf("%s failed: %s", j.Name, j.LastRun.Error)
			}
		}
		if ok == 2 && strings.Contains(log.String(), "prune: freed") && strings.Contains(log.String(), "check: done") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("check and prune did not both run: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A source whose command never ends is aborted after its timeout: the run
// fails saying so, no snapshot is written, the after hooks hear of it, and
// the repository's lock is released, so that prune could run.
func TestSourceTimeout(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "after")
	src := Source{Name: "hang", Command: Command{"/bin/sh", "-c", "echo partial; sleep 1000"},
		Timeout: Duration(500 * time.Millisecond),
		After:   []Hook{{Command: Command{"/bin/sh", "-c", `echo "$CAIRN_OUTCOME" > "$0"`, marker}}}}
	cfg := &Config{Host: "h", Sources: []Source{src}, Prune: &Prune{}}
	d, _ := newTestDaemon(t, cfg)
	t.Cleanup(d.cancelWork) // before the runner's cleanup waits for the run
	d.runner.start()
	ch, err := d.runner.request("hang")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-ch:
		if res.Outcome != OutcomeFailure || !strings.Contains(res.Error, "timed out after 500ms") || res.SnapshotID != "" {
			t.Fatalf("run: %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end: no timeout")
	}
	if b, _ := os.ReadFile(marker); strings.TrimSpace(string(b)) != OutcomeFailure {
		t.Errorf("after hook saw outcome %q", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lock, err := d.r.Lock(ctx, true, "test")
	if err != nil {
		t.Fatalf("exclusive lock after the timeout: %v", err)
	}
	lock.Unlock()
}

// The scheduled check and prune remember when they last ran across a
// restart: one overdue (its interval passed, or a cron time was missed
// while the daemon was down) runs soon after start, rather than being put
// off again by every restart.
func TestCheckAndPruneCatchUpAfterRestart(t *testing.T) {
	cfg := &Config{Host: "h", Check: &Check{Schedule: "@weekly"}, Prune: &Prune{Schedule: "1d"}}
	d, _ := newTestDaemon(t, cfg)
	d.deps.StateDir = t.TempDir()
	// A fresh daemon with no record waits for the schedules.
	d.runner = newRunner(d, cfg)
	_, jobs := d.runner.status(cfg)
	for _, j := range jobs {
		if j.NextRun == nil || time.Until(*j.NextRun) < time.Hour {
			t.Fatalf("first start: %s next at %v, want a schedule away", j.Name, j.NextRun)
		}
	}
	// Both ran (and succeeded) 8 days ago.
	long := time.Now().Add(-8 * 24 * time.Hour).Round(0)
	d.runner.runFn = func(kind jobKind, name string, src Source, _ *watch) RunResult {
		return RunResult{Source: name, Outcome: OutcomeSuccess, Start: long}
	}
	for _, k := range []jobKind{kindCheck, kindPrune} {
		ch := make(chan RunResult, 1)
		d.runner.mu.Lock()
		d.runner.requestLocked(d.runner.jobs[jobKey(k, "")], &waiter{ch: ch})
		d.runner.mu.Unlock()
		<-ch
	}
	d.runner.stop()
	d.runner.wait()
	// The daemon restarts: both are overdue.
	d.runner = newRunner(d, cfg)
	_, jobs = d.runner.status(cfg)
	if len(jobs) != 2 {
		t.Fatalf("jobs: %+v", jobs)
	}
	for _, j := range jobs {
		if j.NextRun == nil || time.Until(*j.NextRun) > time.Minute {
			t.Errorf("after a restart: %s next at %v, want now (it last ran 8 days ago)", j.Name, j.NextRun)
		}
	}
}

// A source a reload removes does not run for a request made before the
// reload: not again when the request was queued behind its own run, nor at
// all when it waited for the slot another source held (concurrency 1).
// Whoever waits for that run hears why.
func TestRemovedSourceDoesNotRunAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		running string // the source running when the reload removes "a"
		want    int    // runs of "a"
	}{
		{"queued behind its own run", "a", 1},
		{"waiting for another's slot", "b", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDaemon(t, &Config{Sources: []Source{{Name: "a"}, {Name: "b"}}})
			var mu sync.Mutex
			ran := map[string]int{}
			release := make(chan struct{})
			d.runner.runFn = func(kind jobKind, name string, src Source, _ *watch) RunResult {
				mu.Lock()
				ran[name]++
				mu.Unlock()
				if name == tc.running {
					<-release
				}
				return RunResult{Source: name, Outcome: OutcomeSuccess}
			}
			first, err := d.runner.request(tc.running)
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return ran[tc.running] == 1 })
			queued, err := d.runner.request("a")
			if err != nil {
				t.Fatal(err)
			}
			d.runner.mu.Lock()
			d.runner.plan(&Config{Sources: []Source{{Name: "b"}}}, nil)
			d.runner.mu.Unlock()
			close(release)
			if res := <-first; res.Outcome != OutcomeSuccess {
				t.Fatalf("%s's run: %+v", tc.running, res)
			}
			res := <-queued
			if res.Outcome != OutcomeFailure || !strings.Contains(res.Error, "removed by a reload") {
				t.Errorf("the request for a answered %+v", res)
			}
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if ran["a"] != tc.want {
				t.Fatalf("the removed source ran %d times, want %d", ran["a"], tc.want)
			}
		})
	}
}

// A daemon that planned its runs while the clock was ahead (started
// before NTP set a wrong clock back) plans them anew once the clock is
// back: a 6h source runs within 6h, not a 6h after the wrong date.
func TestRunsPlannedAnewWhenClockSetBack(t *testing.T) {
	cfg := &Config{Host: "h", Sources: []Source{{Name: "a", Schedule: "6h"}, {Name: "b", Schedule: "0 3 * * *"}}}
	d, _ := newTestDaemon(t, cfg)
	r := d.runner
	r.runFn = func(kind jobKind, name string, src Source, _ *watch) RunResult {
		t.Errorf("%s ran", name)
		return RunResult{Source: name, Outcome: OutcomeSuccess}
	}
	now := time.Now().Round(0)
	ahead := now.AddDate(1, 0, 0)
	r.mu.Lock()
	for _, j := range r.jobs {
		j.next, j.from = j.sched.Next(ahead), ahead
	}
	r.mu.Unlock()
	if wait := r.tick(now); wait > time.Minute {
		t.Errorf("wait %s", wait)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.next.After(now.Add(25 * time.Hour)) {
			t.Errorf("%s: next run at %s, planned when the clock said %s; want within a day of %s", j.name, j.next, ahead, now)
		}
	}
}

// A clock set back a little (NTP stepping it soon after the daemon
// started) does not put off a run planned an hour away by a whole
// interval: the interval job keeps its planned wait.
func TestSmallClockStepBackKeepsPlannedRun(t *testing.T) {
	cfg := &Config{Host: "h", Sources: []Source{{Name: "a", Schedule: "24h"}}}
	d, _ := newTestDaemon(t, cfg)
	r := d.runner
	r.runFn = func(kind jobKind, name string, src Source, _ *watch) RunResult {
		t.Errorf("%s ran", name)
		return RunResult{Source: name, Outcome: OutcomeSuccess}
	}
	planned := time.Now().Round(0)
	r.mu.Lock()
	j := r.jobs["a"]
	// the newest snapshot is 23h old: the next run is due in an hour
	j.next, j.from = planned.Add(time.Hour), planned
	r.mu.Unlock()
	now := planned.Add(-5 * time.Second) // stepped back 5s
	r.tick(now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if j.next.After(planned.Add(time.Hour)) || j.next.Before(now) {
		t.Errorf("next run at %s after the clock went back 5s; want by %s", j.next, planned.Add(time.Hour))
	}
}

// A reload that moves a cron schedule to a time that already passed
// today waits for that time's next turn: no run at once, as if it had
// been missed while the daemon was down.
func TestReloadedCronScheduleDoesNotCatchUp(t *testing.T) {
	now := time.Now().Round(0)
	at := func(t time.Time) string { return fmt.Sprintf("%d %d * * *", t.Minute(), t.Hour()) }
	newest := now.Add(-2 * time.Hour)
	cfg := &Config{Host: "h", Sources: []Source{{Name: "a", Schedule: at(newest)}}}
	d, _ := newTestDaemon(t, cfg)
	r := d.runner
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plan(cfg, map[string]time.Time{"a": newest})
	if next := r.jobs["a"].next; next.Before(now) {
		t.Fatalf("planned at %s before the reload", next)
	}
	moved := &Config{Host: "h", Sources: []Source{{Name: "a", Schedule: at(now.Add(-time.Hour))}}}
	r.plan(moved, map[string]time.Time{"a": newest})
	if next := r.jobs["a"].next; next.Before(now.Add(22 * time.Hour)) {
		t.Errorf("after moving the schedule to %q the next run is at %s; want tomorrow", moved.Sources[0].Schedule, next)
	}
}
