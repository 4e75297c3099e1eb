package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// The runner runs sources (and the scheduled check and prune) when their
// schedule says or when asked. The same job never runs twice at once: a
// request while it is queued joins that run, a request while it runs
// queues one more run after it. Different jobs run at once up to the
// configured concurrency. Prune takes the repository's exclusive lock, so
// it waits for every other job to end and they wait for it.

type jobKind int

const (
	kindSource jobKind = iota
	kindCheck
	kindPrune
)

type runState int

const (
	idle runState = iota
	queued
	running
)

type job struct {
	name  string
	kind  jobKind
	src   Source // kindSource: as configured now
	sched Schedule
	next  time.Time // zero: not scheduled
	// from is the clock's time when next was planned: a clock now
	// before it was set back since, and next is planned anew.
	from time.Time

	state    runState
	pending  bool     // one more run after the running one
	waiters  []waiter // answered by the queued or running run
	later    []waiter // answered by the pending run
	last     *RunResult
	failures int
	dropped  bool // a reload removed it; forget it once idle
	// copies is the last copy into each copy destination, by name.
	copies map[string]*CopyStatus
}

// waiter is a caller waiting for a run's end, and hearing meanwhile of
// the paths it cannot read or saves with a time clamped (w may be nil).
type waiter struct {
	ch chan RunResult
	w  *watch
}

// watch hears, as a run goes, of each path it cannot read (warn) and each
// it saved with a time clamped (notice, ingest.Options.Notice). A nil
// watch, or a nil func in one, hears nothing.
type watch struct {
	warn, notice func(path, msg string)
}

func (w *watch) onWarn(path, msg string) {
	if w != nil && w.warn != nil {
		w.warn(path, msg)
	}
}

func (w *watch) onNotice(path, msg string) {
	if w != nil && w.notice != nil {
		w.notice(path, msg)
	}
}

type runner struct {
	d *Daemon

	mu      sync.Mutex
	cond    *sync.Cond // busy or stopped changed
	jobs    map[string]*job
	limit   int
	busy    int
	stopped bool
	wake    chan struct{}
	quit    chan struct{}
	wg      sync.WaitGroup

	// runFn runs one job (runOne; tests replace it). w hears of each
	// path the run cannot read or saves with a time clamped.
	runFn func(kind jobKind, name string, src Source, w *watch) RunResult

	// jobTimes is when the check and prune last started a run that
	// succeeded, by name, as the state file keeps it (under mu).
	jobTimes map[string]time.Time

	// excl lets prune (exclusive) and the others (shared) take turns:
	// prune's repository lock would fail while an ingest holds a shared
	// one.
	excl sync.RWMutex
}

var errUnknownSource = errors.New("no such source")

func jobKey(kind jobKind, name string) string {
	switch kind {
	case kindCheck:
		return "\x00check"
	case kindPrune:
		return "\x00prune"
	}
	return name
}

func newRunner(d *Daemon, cfg *Config) *runner {
	r := &runner{d: d, jobs: map[string]*job{}, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	r.runFn = r.runOne
	r.jobTimes = d.loadJobTimes()
	r.plan(cfg, r.newestSnapshots(cfg))
	return r
}

// plan brings the jobs in line with cfg (under mu, or before start);
// newest is the time of each source's newest snapshot.
func (r *runner) plan(cfg *Config, newest map[string]time.Time) {
	r.limit = max(cfg.Concurrency, 1)
	now := time.Now().Round(0)
	want := map[string]bool{}
	add := func(kind jobKind, name, schedule string, src Source) {
		key := jobKey(kind, name)
		want[key] = true
		j := r.jobs[key]
		// A job the daemon already had gets a new schedule from a
		// reload: no time of it was missed while the daemon was down.
		known := j != nil && !j.dropped
		if j == nil {
			j = &job{name: name, kind: kind}
			r.jobs[key] = j
		}
		j.src, j.dropped = src, false
		if schedule == "" {
			j.sched, j.next = nil, time.Time{}
			return
		}
		if j.sched != nil && j.sched.String() == schedule {
			return // keep its next run
		}
		s, err := ParseSchedule(schedule)
		if err != nil { // Load checked it; never here
			r.d.logf("%s: %v", name, err)
			j.sched, j.next = nil, time.Time{}
			return
		}
		j.sched, j.from = s, now
		_, interval := s.Interval()
		switch last := r.jobTimes[name]; {
		case known && !interval:
			// A cron schedule changed by a reload starts at its next
			// time: moving 0 3 * * * to 0 4 * * * at noon must not run
			// a source at once, as if 04:00 had been missed.
			j.next = s.Next(now).Add(Jitter(src.RandomDelay, nil)).Round(0)
		case kind == kindSource:
			j.next = firstRun(s, now, newest[name], src.RandomDelay)
		case !last.IsZero():
			j.next = firstRun(s, now, last, 0)
		default: // never ran here: not at once on a first start
			j.next = s.Next(now).Round(0)
		}
	}
	for _, s := range cfg.Sources {
		add(kindSource, s.Name, s.Schedule, s)
	}
	if cfg.Check != nil {
		add(kindCheck, "check", cfg.Check.Schedule, Source{})
	}
	if cfg.Prune != nil {
		add(kindPrune, "prune", cfg.Prune.Schedule, Source{})
	}
	for key, j := range r.jobs {
		if !want[key] {
			j.dropped, j.sched, j.next = true, nil, time.Time{}
			if j.state == idle {
				delete(r.jobs, key)
			}
		}
	}
	r.cond.Broadcast()
}

// firstRun is when a newly planned job first runs: an interval one an
// interval after the source's newest snapshot of this host, or now when
// that is overdue (or there is none); a cron one at its next time, or now
// when one of its times passed since the source's newest snapshot (the
// daemon was stopped or the machine off at that time), as a systemd timer
// with Persistent=true catches up once. A cron source with no snapshot
// yet waits for its next time.
func firstRun(s Schedule, now, newest time.Time, delay Duration) time.Time {
	if newest.After(now) {
		// Recorded while the clock was ahead: it ran at the latest now,
		// not an interval before a date that may be months away.
		newest = now
	}
	next := s.Next(now)
	if iv, ok := s.Interval(); ok && !newest.IsZero() {
		next = newest.Add(iv)
		if next.Before(now) {
			next = now
		}
	} else if ok {
		next = now
	} else if !newest.IsZero() && !s.Next(newest.In(now.Location())).After(now) {
		// In now's zone: a snapshot's time may carry the fixed offset it
		// was written with, and a cron schedule reads the zone it is given.
		next = now
	}
	return next.Add(Jitter(delay, nil)).Round(0)
}

// newestSnapshots returns the time of the newest snapshot of each source
// of this host, for firstRun.
func (r *runner) newestSnapshots(cfg *Config) map[string]time.Time {
	out := map[string]time.Time{}
	if r.d.r == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snaps, err := r.d.r.Snapshots(ctx, func(error) {})
	if err != nil {
		r.d.logf("listing snapshots to plan the schedules: %v", err)
		return out
	}
	return newestOf(snaps, cfg.Host, time.Now())
}

// newestOf returns the time of the newest snapshot of each source of host
// that is not dated after now. A snapshot in the future (its time given
// with ingest --time, or written while the clock was ahead) says nothing
// about when the source last ran: counting it would put an interval
// source's first run an interval after that date, months or years away.
func newestOf(snaps []*repo.Snapshot, host string, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, sn := range snaps {
		if sn.Host == host && sn.Time.After(out[sn.Source]) && !sn.Time.After(now) {
			out[sn.Source] = sn.Time
		}
	}
	return out
}

func (r *runner) start() {
	r.wg.Add(1)
	go r.loop()
}

// replan applies a reloaded config.
func (r *runner) replan(cfg *Config) {
	// Listing snapshots may take a while on remote storage: not while
	// holding mu, which status and run requests need.
	newest := r.newestSnapshots(cfg)
	r.mu.Lock()
	r.plan(cfg, newest)
	r.mu.Unlock()
	r.poke()
}

// tick starts the jobs due at now and plans their next runs, and returns
// how long to wait before looking again.
func (r *runner) tick(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	wait := time.Minute // look again at least this often: wall clock jumps
	for _, j := range r.jobs {
		if j.sched == nil || j.next.IsZero() {
			continue
		}
		delay := Duration(0)
		if j.kind == kindSource {
			delay = j.src.RandomDelay
		}
		if now.Before(j.from) {
			// The clock was set back (a daemon started before NTP
			// corrected a clock that was ahead): the next run planned
			// from the wrong time could be months away. An interval
			// job keeps the wait it was planned with, moved back with
			// the clock: planned anew a whole interval from now, a
			// step back of a few seconds soon after the start would
			// put off a run due in an hour (an interval after the
			// newest snapshot) by a day. A cron job takes its next
			// time by the clock.
			if _, ok := j.sched.Interval(); ok {
				j.next = j.next.Add(now.Sub(j.from)).Round(0)
			} else {
				j.next = j.sched.Next(now).Add(Jitter(delay, nil)).Round(0)
			}
			j.from = now
		}
		if !j.next.After(now) {
			r.requestLocked(j, nil)
			j.next, j.from = j.sched.Next(now).Add(Jitter(delay, nil)).Round(0), now
		}
		wait = min(wait, j.next.Sub(now))
	}
	return wait
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loop starts the jobs whose time has come.
func (r *runner) loop() {
	defer r.wg.Done()
	for {
		wait := r.tick(time.Now().Round(0))
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-r.quit:
			t.Stop()
			return
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// request runs a source now; the channel hears how the run ended.
func (r *runner) request(name string) (<-chan RunResult, error) {
	return r.requestWatch(name, nil)
}

// requestWatch is request, with w (when not nil) hearing of each path the
// run that answers cannot read or saves with a time clamped, as it goes.
func (r *runner) requestWatch(name string, w *watch) (<-chan RunResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.jobs[jobKey(kindSource, name)]
	if j == nil || j.dropped {
		return nil, fmt.Errorf("%w %q in the daemon's config", errUnknownSource, name)
	}
	if r.stopped {
		return nil, errStopping
	}
	ch := make(chan RunResult, 1)
	r.requestLocked(j, &waiter{ch: ch, w: w})
	return ch, nil
}

func (r *runner) requestLocked(j *job, w *waiter) {
	if r.stopped {
		return
	}
	add := func(l *[]waiter) {
		if w != nil {
			*l = append(*l, *w)
		}
	}
	switch j.state {
	case idle:
		j.state = queued
		add(&j.waiters)
		r.wg.Add(1)
		go r.exec(j)
	case queued:
		add(&j.waiters)
	case running:
		j.pending = true
		add(&j.later)
	}
}

// exec runs j, and again while runs were requested meanwhile.
func (r *runner) exec(j *job) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		for r.busy >= r.limit && !r.stopped {
			r.cond.Wait()
		}
		if r.stopped {
			r.finishLocked(j, RunResult{Source: j.name, Outcome: OutcomeFailure, ExitCode: exitFailure, Error: errStopping.Error()})
			r.mu.Unlock()
			return
		}
		// A reload removed it while it waited for a free slot.
		if j.dropped {
			r.finishLocked(j, RunResult{Source: j.name, Outcome: OutcomeFailure, ExitCode: exitFailure, Error: removedByReload(j.name)})
			r.mu.Unlock()
			return
		}
		r.busy++
		j.state = running
		kind, src := j.kind, j.src
		r.mu.Unlock()

		// The waiters of a running run do not change: later requests
		// wait for the next run.
		waiters := func() []waiter {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.Clone(j.waiters)
		}
		wt := &watch{
			warn: func(path, msg string) {
				for _, w := range waiters() {
					w.w.onWarn(path, msg)
				}
			},
			notice: func(path, msg string) {
				for _, w := range waiters() {
					w.w.onNotice(path, msg)
				}
			},
		}
		res := r.runFn(kind, j.name, src, wt)

		r.mu.Lock()
		if kind != kindSource && res.Outcome == OutcomeSuccess {
			if r.jobTimes == nil {
				r.jobTimes = map[string]time.Time{}
			}
			r.jobTimes[j.name] = res.Start
			r.d.saveJobTimes(maps.Clone(r.jobTimes))
		}
		r.busy--
		r.cond.Broadcast()
		j.last = &res
		if res.Outcome == OutcomeFailure {
			j.failures++
		}
		j.noteCopies(res.Copies)
		// A job a reload removed while it ran does not run again.
		again := j.pending && !r.stopped && !j.dropped
		r.answer(j.waiters, res)
		j.waiters, j.pending = nil, false
		if again {
			j.waiters, j.later = j.later, nil
			j.state = queued
			r.mu.Unlock()
			continue
		}
		why := errStopping.Error()
		if j.dropped && !r.stopped {
			why = removedByReload(j.name)
		}
		r.finishLocked(j, RunResult{Source: j.name, Outcome: OutcomeFailure, ExitCode: exitFailure, Error: why})
		r.mu.Unlock()
		return
	}
}

// removedByReload is what the callers waiting for a run of a job a reload
// removed hear.
func removedByReload(name string) string {
	return fmt.Sprintf("%s %q in the daemon's config any more (removed by a reload)", errUnknownSource, name)
}

// noteCopies keeps the outcome of each copy of a run (under mu).
func (j *job) noteCopies(copies []CopyResult) {
	for _, c := range copies {
		if j.copies == nil {
			j.copies = map[string]*CopyStatus{}
		}
		st := j.copies[c.Destination]
		if st == nil {
			st = &CopyStatus{}
			j.copies[c.Destination] = st
		}
		st.CopyResult = c
		if c.Outcome == OutcomeSuccess {
			end := c.End
			st.LastSuccess = &end
		} else {
			st.Failures++
		}
	}
}

// finishLocked makes j idle, answering whoever still waits with res.
func (r *runner) finishLocked(j *job, res RunResult) {
	r.answer(j.waiters, res)
	r.answer(j.later, res)
	j.waiters, j.later, j.pending = nil, nil, false
	j.state = idle
	if j.dropped {
		delete(r.jobs, jobKey(j.kind, j.name))
	}
}

func (r *runner) answer(ws []waiter, res RunResult) {
	for _, w := range ws {
		w.ch <- res
	}
}

func (r *runner) runOne(kind jobKind, name string, src Source, w *watch) RunResult {
	if err := r.d.begin(); err != nil {
		return RunResult{Source: name, Outcome: OutcomeFailure, ExitCode: exitFailure, Error: err.Error()}
	}
	defer r.d.end()
	ctx, cancel := r.d.workContext(context.Background())
	defer cancel()
	switch kind {
	case kindCheck:
		r.excl.RLock()
		defer r.excl.RUnlock()
		return r.d.runCheck(ctx)
	case kindPrune:
		r.excl.Lock()
		defer r.excl.Unlock()
		return r.d.runPrune(ctx)
	}
	r.excl.RLock()
	defer r.excl.RUnlock()
	return r.d.runSource(ctx, src, w)
}

// stop takes no more work: queued runs are answered as failed, running
// ones go on (the daemon cancels them after stop_timeout).
func (r *runner) stop() {
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.quit)
	}
	r.cond.Broadcast()
	r.mu.Unlock()
}

// wait returns when every run has ended.
func (r *runner) wait() { r.wg.Wait() }

// status describes every job, sources in config order.
func (r *runner) status(cfg *Config) (sources, jobs []SourceStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	one := func(j *job) SourceStatus {
		s := SourceStatus{Name: j.name, Running: j.state == running, Queued: j.state == queued || j.pending, Failures: j.failures}
		if j.sched != nil {
			s.Schedule = j.sched.String()
			if !j.next.IsZero() {
				t := j.next
				s.NextRun = &t
			}
		}
		if j.last != nil {
			l := *j.last
			s.LastRun = &l
		}
		for _, name := range j.src.CopyTo {
			if c := j.copies[name]; c != nil {
				s.Copies = append(s.Copies, *c)
			}
		}
		return s
	}
	for _, src := range cfg.Sources {
		if j := r.jobs[jobKey(kindSource, src.Name)]; j != nil {
			sources = append(sources, one(j))
		}
	}
	for _, k := range []jobKind{kindCheck, kindPrune} {
		if j := r.jobs[jobKey(k, "")]; j != nil {
			jobs = append(jobs, one(j))
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].Name < jobs[b].Name })
	return sources, jobs
}
