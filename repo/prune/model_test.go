package prune_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/prune"
)

// The model check: two writers run ingests step by step (pack uploads,
// checkpoints, commit) on a fake clock, while prunes run between any two
// steps and, through a backend hook, in the middle of a prune's own calls.
// Writers pause (their leases go stale), crash, and resume; snapshots are
// forgotten; prunes crash at any call. Locks also fail: a prune runs while
// a writer's snapshot upload is on its way after its lease check, or on a
// host whose clock is ahead, which takes live locks for stale. After every
// prune, every committed snapshot must restore exactly, read by a host
// with an empty cache, and a writer may commit only while its lease holds.
//
// `go test` runs a sample that takes a few seconds. The long version,
//
//	CAIRN_PRUNE_MODEL=2000 go test ./repo/prune -run Model -v -timeout 2h
//
// runs that many random schedules, and every one of the points that
// TestModelInterleavings enumerates instead of a sample of 20.

type actKind int

const (
	actStep actKind = iota
	actPause
	actAdvance
	actPrune
	actForget
	actCrash
	actStalledCommit
)

// action is one move of the schedule.
type action struct {
	kind      actKind
	w         int           // writer, for step, pause, crash
	d         time.Duration // advance
	maxUnused float64       // prune
	skew      time.Duration // prune: how far the prune host's clock is ahead
	crashAt   int           // prune: its calls from this one on fail (-1: never)
	// prune: before its call number at, or its first call whose
	// "op name" begins with atCall, run writer steps (a stale writer
	// resuming), or stall the prune past its lease while another writer
	// runs a whole ingest.
	at     int
	atCall string
	during func(m *model)
}

type model struct {
	w       *world
	t       testing.TB
	writers []*writer
	pruner  string // the prune host's cache
	log     []string
	prunes  struct{ ok, refused, crashed, locked, leaseLost, skewed, duringCommit int }
}

func newModel(t testing.TB, seed uint64) *model {
	w := newWorld(t, seed)
	m := &model{w: w, t: t, pruner: w.cacheDir()}
	for i := 0; i < 2; i++ {
		m.writers = append(m.writers, w.newWriter(fmt.Sprintf("w%d", i), seed*10+uint64(i)))
	}
	return m
}

func (m *model) note(s string) { m.log = append(m.log, s) }

// fail reports the schedule so far with a failure.
func (m *model) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("%s\nschedule:\n  %s", fmt.Sprintf(format, args...), strings.Join(m.log, "\n  "))
}

// refreshEvery is the model's lock refresh period: longer than the real
// loop's (repo.LockRefresh) to keep the test fast, still well within
// repo.LeaseGiveUp.
const refreshEvery = 15 * time.Minute

// advance moves the clock in refresh periods; every holder that is not
// paused refreshes its lock at each.
func (m *model) advance(d time.Duration) {
	for d > 0 {
		s := min(d, refreshEvery)
		m.w.clk.set(m.w.clk.now().Add(s))
		d -= s
		for _, wr := range m.writers {
			wr.refresh()
		}
	}
}

func (m *model) run(a action) {
	m.t.Helper()
	switch a.kind {
	case actStep:
		m.note(m.writers[a.w].step())
	case actPause:
		if wr := m.writers[a.w]; !wr.idle() {
			wr.paused = true
			m.note(wr.name + " paused")
		}
	case actAdvance:
		m.advance(a.d)
		m.note("advance " + a.d.String())
	case actCrash:
		m.note(m.writers[a.w].crash())
	case actForget:
		m.forget()
	case actPrune:
		m.prune(a)
	case actStalledCommit:
		m.stalledCommit(a)
	}
}

// stalledCommit runs writer a.w up to its commit, whose snapshot upload,
// after the lease check, stalls for longer than a stale lock while a
// prune runs; then the upload lands.
func (m *model) stalledCommit(a action) {
	wr := m.writers[a.w]
	for !wr.idle() && wr.pc != stCommit {
		m.note(wr.step())
	}
	if wr.idle() {
		return
	}
	stalled := false
	wr.be.mu.Lock()
	wr.be.before = func(_ int, op, name string) error {
		if op != "save" || !strings.HasPrefix(name, "snapshots/") || stalled {
			return nil
		}
		stalled = true
		wr.paused = true
		m.advance(repo.StaleAfter + time.Minute)
		m.note("  (" + wr.name + " uploading its snapshot) stalled " + (repo.StaleAfter + time.Minute).String())
		// Nothing else happens during this prune: the writer is busy.
		p := action{kind: actPrune, maxUnused: a.maxUnused, skew: a.skew, crashAt: a.crashAt, at: -1}
		m.prunes.duringCommit++
		m.prune(p)
		return nil
	}
	wr.be.mu.Unlock()
	m.note(wr.step())
	if wr.be != nil {
		wr.be.mu.Lock()
		wr.be.before = nil
		wr.be.mu.Unlock()
	}
}

// forget removes the oldest committed snapshot under the exclusive lock,
// as `cairn forget` does; it keeps at least one.
func (m *model) forget() {
	w := m.w
	if len(w.committed) < 2 {
		return
	}
	r := w.open(m.pruner, w.be)
	defer r.Close()
	l, err := r.Lock(w.ctx, true, "forget")
	if err != nil {
		m.note("forget: locked")
		return
	}
	defer l.Unlock()
	snaps, err := r.Snapshots(w.ctx, nil)
	if err != nil || len(snaps) == 0 {
		m.fail("forget: %v", err)
	}
	sid := snaps[0].ID
	if err := w.be.Remove(w.ctx, "snapshots/"+sid.String()); err != nil {
		m.fail("forget: %v", err)
	}
	delete(w.committed, sid)
	m.note("forget " + sid.Short())
}

func (m *model) prune(a action) {
	m.t.Helper()
	w := m.w
	hb := &hookBackend{Backend: w.be}
	var r *repo.Repository
	if a.skew != 0 {
		o := w.options(m.pruner)
		o.Now = func() time.Time { return w.clk.now().Add(a.skew) }
		var err error
		if r, err = repo.Open(w.ctx, hb, o); err != nil {
			m.fail("prune: open: %v", err)
		}
		m.prunes.skewed++
	} else {
		r = w.open(m.pruner, hb)
	}
	l, err := r.Lock(w.ctx, true, "prune")
	if err != nil {
		if !errors.Is(err, repo.ErrLocked) {
			m.fail("prune: lock: %v", err)
		}
		r.Close()
		m.prunes.locked++
		m.note("prune: locked")
		return
	}
	before := w.objects()
	crashed, done := false, false
	hb.mu.Lock()
	hb.calls = 0
	hb.before = func(n int, op, name string) error {
		hit := n == a.at || a.atCall != "" && strings.HasPrefix(op+" "+name, a.atCall)
		if hit && !done && a.during != nil {
			done = true
			a.during(m)
		}
		if a.crashAt >= 0 && n >= a.crashAt {
			crashed = true
			return errCrashed
		}
		return nil
	}
	hb.mu.Unlock()
	opt := prune.DefaultOptions()
	opt.Lock, opt.MaxUnused = l, a.maxUnused
	st, err := prune.Run(l.Context(), r, opt)
	hb.mu.Lock()
	hb.before = nil
	hb.mu.Unlock()
	desc := fmt.Sprintf("prune(max %g%%, crash at %d, at %d%s, clock ahead %s)", a.maxUnused, a.crashAt, a.at, a.atCall, a.skew)
	switch {
	case err == nil:
		m.prunes.ok++
		m.note(fmt.Sprintf("%s: deleted %d packs, repacked %d, marked %d, kept %d marked and %d young", desc, st.PacksDeleted, st.RepackPacks, st.MarkedPacks, st.PendingPacks, st.GracePacks))
	case crashed:
		m.prunes.crashed++
		m.note(fmt.Sprintf("%s: crashed: %v", desc, err))
	case errors.Is(err, repo.ErrLeaseLost):
		m.prunes.leaseLost++
		m.note(fmt.Sprintf("%s: lease lost: %v", desc, err))
	case errors.Is(err, prune.ErrRefused):
		m.prunes.refused++
		m.note(fmt.Sprintf("%s: refused: %v", desc, err))
		for name := range before {
			if !w.objects()[name] {
				m.fail("refused prune deleted %s", name)
			}
		}
	default:
		m.fail("%s: %v", desc, err)
	}
	if crashed {
		hb.kill()
	}
	l.Unlock() // on a crashed prune this fails and the lock object stays
	r.Close()
	m.verifyAll("after " + desc)
}

func (m *model) verifyAll(when string) {
	m.t.Helper()
	defer func() {
		if m.t.Failed() {
			m.t.Logf("schedule:\n  %s", strings.Join(m.log, "\n  "))
		}
	}()
	m.w.verify(when)
}

// settle lets every writer finish, waits out stale locks and the grace
// period, and prunes: once to mark what is unneeded, and again, a grace
// period later, to delete it; and once more. The repository must then
// hold no unused data and every committed snapshot.
func (m *model) settle() {
	m.t.Helper()
	for _, wr := range m.writers {
		for !wr.idle() {
			m.note(wr.step())
		}
	}
	m.advance(repo.StaleAfter + time.Minute)
	m.advance(prune.DefaultGracePeriod + time.Minute)
	m.prune(action{kind: actPrune, maxUnused: 0, crashAt: -1, at: -1})
	m.advance(prune.DefaultGracePeriod + time.Minute)
	m.prune(action{kind: actPrune, maxUnused: 0, crashAt: -1, at: -1})
	m.prune(action{kind: actPrune, maxUnused: 0, crashAt: -1, at: -1})
	r := m.w.open(m.pruner, m.w.be)
	defer r.Close()
	st, err := prune.Run(m.w.ctx, r, prune.Options{DryRun: true, MaxUnused: 0})
	if err != nil {
		if len(m.w.committed) == 0 && errors.Is(err, prune.ErrRefused) {
			return
		}
		m.fail("settled dry run: %v", err)
	}
	if st.PacksDeleted != 0 || st.UnusedBytes != 0 || st.GracePacks != 0 || st.MarkedPacks != 0 || st.PendingPacks != 0 {
		m.fail("after settling, prune would still free something: %+v", st)
	}
}

// randomSchedule draws n actions.
func randomSchedule(rng *rand.Rand, n int) []action {
	var out []action
	for len(out) < n {
		a := action{w: rng.IntN(2), crashAt: -1, at: -1}
		switch x := rng.IntN(100); {
		case x < 50:
			a.kind = actStep
		case x < 58:
			a.kind = actPause
		case x < 72:
			a.kind = actAdvance
			a.d = []time.Duration{time.Minute, 7 * time.Minute, 35 * time.Minute, 25 * time.Hour}[rng.IntN(4)]
		case x < 90, x >= 95 && x < 98:
			if x < 90 && rng.IntN(2) == 0 {
				// Most prunes would find a live writer's lock: let
				// a writer stall until its lock is stale first.
				out = append(out, action{kind: actPause, w: a.w}, action{kind: actAdvance, d: repo.StaleAfter + time.Minute})
			}
			a.kind = actPrune
			if x >= 95 {
				// Or a writer's snapshot upload stalls and the
				// prune runs meanwhile.
				a.kind = actStalledCommit
			}
			if rng.IntN(5) == 0 {
				// The prune host's clock is ahead: every lock looks
				// stale to it.
				a.skew = repo.StaleAfter + time.Minute
			}
			a.maxUnused = []float64{0, 5, 50, 100}[rng.IntN(4)]
			if rng.IntN(3) == 0 {
				a.crashAt = rng.IntN(40)
			}
			switch rng.IntN(5) {
			case 0:
				// A stale writer resumes in the middle of the prune.
				a.at, a.during = rng.IntN(40), resume(rng.IntN(2), 1+rng.IntN(4))
			case 1:
				// The prune stalls past its lease; a writer ingests.
				a.at, a.during = rng.IntN(40), stallPrune(rng.IntN(2))
			case 2:
				// The same, at the calls that change the repository.
				a.atCall = []string{"save data/", "save tree/", "save index/", "remove index/", "remove data/", "remove tree/"}[rng.IntN(6)]
				a.during = stallPrune(rng.IntN(2))
			}
		case x < 95:
			a.kind = actForget
		default:
			a.kind = actCrash
		}
		out = append(out, a)
	}
	return out
}

// resume runs up to n steps of writer i when it is in the middle of an
// ingest (a stale one: prune holds the exclusive lock).
func resume(i, n int) func(*model) {
	return func(m *model) {
		wr := m.writers[i]
		for k := 0; k < n && !wr.idle(); k++ {
			m.note("  (inside prune) " + wr.step())
		}
	}
}

// stallPrune stops the prune for longer than a stale lock, during which
// writer i, if idle, runs a whole ingest: prune must notice its lost
// lease before deleting anything that ingest may rely on.
func stallPrune(i int) func(*model) {
	return func(m *model) {
		m.advance(repo.StaleAfter + time.Minute)
		m.note("  (inside prune) stalled " + (repo.StaleAfter + time.Minute).String())
		if wr := m.writers[i]; wr.idle() {
			ok := wr.ingest()
			m.note(fmt.Sprintf("  (inside prune) %s ingested (committed: %v)", wr.name, ok))
		}
	}
}

// history gives the repository a past: two ingests, the first forgotten,
// all of it older than the grace period.
func (m *model) history() {
	for i := 0; i < 2; i++ {
		m.writers[i].ingest()
		m.advance(time.Hour)
	}
	m.forget()
	m.advance(prune.DefaultGracePeriod + time.Hour)
	m.note("-- history done")
}

func modelRuns(short int) int {
	if v, err := strconv.Atoi(os.Getenv("CAIRN_PRUNE_MODEL")); err == nil && v > 0 {
		return v
	}
	return short
}

// TestModelRandom runs random schedules of writers, prunes, pauses,
// crashes and clock jumps.
func TestModelRandom(t *testing.T) {
	runs := modelRuns(20)
	total := struct{ ok, refused, crashed, locked, leaseLost, skewed, duringCommit, commits, commitRefused int }{}
	for seed := uint64(1); seed <= uint64(runs); seed++ {
		m := newModel(t, seed)
		m.history()
		rng := rand.New(rand.NewPCG(seed, 7))
		for _, a := range randomSchedule(rng, 60) {
			m.run(a)
			if t.Failed() {
				return
			}
		}
		m.settle()
		if t.Failed() {
			return
		}
		p := m.prunes
		total.ok += p.ok
		total.refused += p.refused
		total.crashed += p.crashed
		total.locked += p.locked
		total.leaseLost += p.leaseLost
		total.skewed += p.skewed
		total.duringCommit += p.duringCommit
		for _, wr := range m.writers {
			total.commits += wr.commits
			total.commitRefused += wr.refused
		}
	}
	t.Logf("%d schedules: prunes %d done, %d crashed, %d stopped by a lost lease, %d refused, %d locked out, %d with the clock ahead, %d during a commit; %d commits, %d refused for a lost lease",
		runs, total.ok, total.crashed, total.leaseLost, total.refused, total.locked, total.skewed, total.duringCommit, total.commits, total.commitRefused)
	if runs >= 20 && (total.ok == 0 || total.crashed == 0 || total.leaseLost == 0 || total.commitRefused == 0 || total.skewed == 0 || total.duringCommit == 0) {
		t.Errorf("the schedules missed a case: %+v", total)
	}
}

// TestModelInterleavings enumerates where two stale writers stand when a
// prune runs: each writer stopped after any step of its ingest, the clock
// moved past their leases (or past the grace period too), a prune, and
// then both resume. The prune also meets a writer resuming, or crashes,
// at each of its backend calls in turn (a sample of them without
// CAIRN_PRUNE_MODEL).
func TestModelInterleavings(t *testing.T) {
	type point struct {
		i, j  int // steps each writer has done
		gap   time.Duration
		k     int // the prune's backend call where something happens
		crash bool
	}
	var all []point
	for i := 0; i < stCommit; i++ {
		for j := 0; j < stCommit; j++ {
			for _, gap := range []time.Duration{repo.StaleAfter + time.Minute, prune.DefaultGracePeriod + time.Hour} {
				all = append(all, point{i, j, gap, -1, false})
				for k := 0; k < 30; k++ {
					all = append(all, point{i, j, gap, k, false}, point{i, j, gap, k, true})
				}
			}
		}
	}
	if os.Getenv("CAIRN_PRUNE_MODEL") == "" {
		rng := rand.New(rand.NewPCG(99, 99))
		rng.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
		all = all[:20]
	}
	for n, p := range all {
		m := newModel(t, uint64(n+1))
		m.history()
		for s := 0; s < p.i; s++ {
			m.run(action{kind: actStep, w: 0})
		}
		for s := 0; s < p.j; s++ {
			m.run(action{kind: actStep, w: 1})
		}
		m.run(action{kind: actPause, w: 0})
		m.run(action{kind: actPause, w: 1})
		m.run(action{kind: actAdvance, d: p.gap})
		a := action{kind: actPrune, crashAt: -1, at: p.k}
		if p.crash {
			a.crashAt = p.k
		} else {
			a.during = resume(p.k%2, 1+p.k%3)
		}
		m.run(a)
		if t.Failed() {
			return
		}
		m.settle()
		if t.Failed() {
			return
		}
	}
	t.Logf("%d interleavings", len(all))
}
