package prune_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/prune"
)

// oldForgotten makes a repository whose only data is older than the grace
// period: a snapshot of src (files a and b), then forgotten, and one of
// other. A new ingest of src deduplicates against the forgotten
// snapshot's packs, which no snapshot uses.
func oldForgotten(t *testing.T) (*world, string) {
	w := newWorld(t, 3)
	first := w.ingestFiles(w.cacheDir(), "src", map[string][]byte{"a": random(4, 5000), "b": random(5, 7000)})
	w.ingestFiles(w.cacheDir(), "other", map[string][]byte{"x": random(6, 100)})
	w.forget(first)
	w.advance(prune.DefaultGracePeriod + time.Hour)
	return w, filepath.Join(w.tmp, "src")
}

// recordCommit notes an ingest's snapshot as committed, with the files it
// holds.
func (w *world) recordCommit(sn *repo.Snapshot, dir string, names ...string) {
	want := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			w.t.Fatal(err)
		}
		want[strings.TrimPrefix(filepath.Join(dir, n), "/")] = b
	}
	w.committed[sn.ID] = want
}

// settleAll lets every deletion mark come due and prunes three times,
// verifying every committed snapshot after each run; the last finds
// nothing to do. It returns the runs' stats.
func (w *world) settleAll() []prune.Stats {
	w.t.Helper()
	var out []prune.Stats
	for i := 0; i < 3; i++ {
		w.advance(prune.DefaultGracePeriod + time.Hour)
		out = append(out, w.mustPrune(prune.DefaultOptions()))
	}
	if st := out[2]; st.PacksDeleted != 0 || st.MarkedPacks != 0 || st.PendingPacks != 0 || st.RepackPacks != 0 {
		w.t.Fatalf("prune still has work after settling: %+v", st)
	}
	return out
}

// ingestStalled ingests dir from a host of its own. Its snapshot upload,
// after the lease check, stalls (a stopped process, a slow storage
// retrying) for longer than a stale lock, while a prune on another host
// finds the lock stale and runs. The upload then lands.
func (w *world) ingestStalled(dir string) (*ingest.Result, prune.Stats) {
	w.t.Helper()
	hb := &hookBackend{Backend: w.be}
	r := w.open(w.cacheDir(), hb)
	defer r.Close()
	l, err := r.Lock(w.ctx, false, "ingest")
	if err != nil {
		w.t.Fatal(err)
	}
	defer l.Unlock()
	var pst prune.Stats
	var perr error
	pruned := false
	hb.before = func(_ int, op, name string) error {
		if op == "save" && strings.HasPrefix(name, "snapshots/") && !pruned {
			pruned = true
			w.advance(repo.StaleAfter + time.Minute)
			pst, perr = w.prune(prune.DefaultOptions())
		}
		return nil
	}
	res, err := ingest.Run(l.Context(), r, ingest.Options{Paths: []string{dir}, Host: "h"})
	hb.before = nil
	if !pruned || perr != nil {
		w.t.Fatalf("the prune did not run during the upload: %v", perr)
	}
	if err != nil {
		w.t.Fatalf("ingest: %v", err)
	}
	return res, pst
}

// A commit on its way while a prune runs: the snapshot lands after the
// prune read the snapshots, and everything it needs must still be there,
// now and after every later prune. The prune may only mark the packs the
// ingest deduplicated against.
func TestCommitInFlightDuringPrune(t *testing.T) {
	w, dir := oldForgotten(t)
	res, pst := w.ingestStalled(dir)
	if pst.Packs == 0 || pst.UsedBlobs == 0 {
		t.Fatalf("the prune saw nothing (%+v): the test does not test anything", pst)
	}
	if pst.MarkedPacks == 0 || pst.PacksDeleted != 0 {
		t.Fatalf("the prune during the upload: %+v, want packs marked and none deleted", pst)
	}
	w.recordCommit(res.Snapshot, dir, "a", "b")
	w.verify("after the commit that was in flight during a prune")
	// The next prune finds the marks due and the new snapshot using what
	// they name: it copies that out, then deletes the marked packs.
	if st := w.settleAll()[0]; st.RepackBlobs == 0 || st.UnusedPacks == 0 {
		t.Fatalf("first prune after the grace period: %+v, want used blobs copied out of marked packs, and those deleted", st)
	}
}

// A pack marked for deletion is one no new snapshot may rely on: an ingest
// that begins just before the mark comes due stores the data again rather
// than deduplicate against the marked packs, so that the prune that
// deletes them while the ingest's commit is on its way loses nothing.
func TestIngestAvoidsMarkedPacks(t *testing.T) {
	w, dir := oldForgotten(t)
	if st := w.mustPrune(prune.DefaultOptions()); st.MarkedPacks == 0 {
		t.Fatalf("nothing marked: %+v", st)
	}
	w.advance(prune.DefaultGracePeriod - 10*time.Minute)
	res, pst := w.ingestStalled(dir)
	if pst.UnusedPacks == 0 {
		t.Fatalf("the prune deleted no marked pack (%+v): the test does not test anything", pst)
	}
	if s := res.Snapshot.Summary; s == nil || s.DataBlobs != 2 {
		t.Fatalf("summary %+v: want both files' data stored again", s)
	}
	w.recordCommit(res.Snapshot, dir, "a", "b")
	w.verify("after the commit that was in flight while marked packs were deleted")
	w.settleAll()
}

// The clock of the host that prunes runs 31 minutes ahead. Its lock
// attempt still sees a healthy writer's lock as live, since the storage's
// clock says it was written just now; but its operator, taking that lock
// for a leftover, removes every lock (unlock --remove-all) and prunes
// while the writer goes on, its lease intact by its own clock. Locks
// failed; the writer finds that the packs it deduplicated against were
// marked for deletion meanwhile, and commits nothing; run again, it
// stores their data anew and commits a snapshot that later prunes keep
// whole.
func TestPruneHostClockAhead(t *testing.T) {
	w, dir := oldForgotten(t)
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	l, err := r.Lock(w.ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	skewed := func() time.Time { return w.clk.now().Add(repo.StaleAfter + time.Minute) }
	var pst prune.Stats
	opt := ingest.Options{Paths: []string{dir}, Host: "h", BeforeCommit: func() error {
		o := w.options(w.cacheDir())
		o.Now = skewed
		pr, err := repo.Open(w.ctx, w.be, o)
		if err != nil {
			return err
		}
		defer pr.Close()
		if _, err := pr.Lock(w.ctx, true, "prune"); !errors.Is(err, repo.ErrLocked) {
			return fmt.Errorf("prune's lock beside the writer's: %v, want %v", err, repo.ErrLocked)
		}
		if _, _, err := pr.RemoveLocks(w.ctx, true); err != nil {
			return err
		}
		pl, err := pr.Lock(w.ctx, true, "prune")
		if err != nil {
			return err
		}
		defer pl.Unlock()
		popt := prune.DefaultOptions()
		popt.Lock = pl
		pst, err = prune.Run(pl.Context(), pr, popt)
		return err
	}}
	_, err = ingest.Run(l.Context(), r, opt)
	if !errors.Is(err, repo.ErrPrunedMeanwhile) {
		t.Fatalf("ingest: %v, want %v", err, repo.ErrPrunedMeanwhile)
	}
	if pst.MarkedPacks == 0 {
		t.Fatalf("the prune marked nothing (%+v): the test does not test anything", pst)
	}
	if err := l.Check(); err != nil {
		t.Fatalf("the writer's own lease: %v", err)
	}
	if n := w.count("snapshots/"); n != 1 {
		t.Fatalf("%d snapshots stored", n)
	}
	w.verify("after the refused commit")
	res, err := ingest.Run(l.Context(), r, ingest.Options{Paths: []string{dir}, Host: "h"})
	if err != nil {
		t.Fatalf("ingest again: %v", err)
	}
	if s := res.Snapshot.Summary; s.DataBlobs != 2 {
		t.Fatalf("summary %+v: want both files' data stored again", s)
	}
	w.recordCommit(res.Snapshot, dir, "a", "b")
	w.verify("after the second ingest")
	w.settleAll()
}

// After a prune copied the used blob out of a mostly unused pack and
// marked that pack, an ingest of the same data relies on the new copy:
// it stores nothing again.
func TestIngestUsesCopyOfMarkedBlob(t *testing.T) {
	w, _ := twoIngests(t)
	if st := w.mustPrune(prune.DefaultOptions()); st.RepackBlobs != 1 || st.MarkedPacks != 2 {
		t.Fatalf("stats %+v", st)
	}
	sn := w.ingestFiles(w.cacheDir(), "src", map[string][]byte{"a": random(1, 3000), "c": random(3, 2000)})
	if sn.Summary.DataBlobs != 0 {
		t.Fatalf("summary %+v: want no data stored again", sn.Summary)
	}
	w.settleAll()
}

// A damaged deletion mark is removed, and the packs it named are marked
// anew: they wait another grace period, never less.
func TestDamagedMark(t *testing.T) {
	w, _ := twoIngests(t)
	before := w.objects()
	if st := w.mustPrune(prune.DefaultOptions()); st.MarkedPacks != 2 {
		t.Fatalf("stats %+v", st)
	}
	var name string
	w.be.List(w.ctx, "condemned/", func(fi backends.Info) error { name = fi.Name; return nil })
	r := w.open(w.cacheDir(), w.be)
	marks, err := r.Marks(w.ctx)
	r.Close()
	if err != nil || len(marks) != 1 {
		t.Fatalf("marks %+v: %v", marks, err)
	}
	var marked []string
	for _, p := range marks[0].Packs {
		marked = append(marked, p.Name())
		if !before[p.Name()] {
			t.Fatalf("%s was marked, and is no pack of the ingests", p.Name())
		}
	}
	stored := func(want bool, when string) {
		t.Helper()
		objs := w.objects()
		for _, n := range marked {
			if objs[n] != want {
				t.Fatalf("%s: %s stored: %v", when, n, objs[n])
			}
		}
	}
	b, err := w.be.Load(w.ctx, name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	w.be.Save(w.ctx, name, b)
	w.advance(prune.DefaultGracePeriod + time.Minute)
	st := w.mustPrune(prune.DefaultOptions())
	if st.PacksDeleted != 0 || st.MarkedPacks < 2 || st.MarksWritten != 1 || st.MarksDeleted != 1 {
		t.Fatalf("prune beside a damaged mark: %+v", st)
	}
	if _, err := w.be.Stat(w.ctx, name); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("the damaged mark is still there: %v", err)
	}
	stored(true, "after the damaged mark was found")
	w.advance(prune.DefaultGracePeriod - time.Minute)
	if st := w.mustPrune(prune.DefaultOptions()); st.PacksDeleted != 0 || st.PendingPacks < 2 {
		t.Fatalf("within the new mark's grace period: %+v", st)
	}
	stored(true, "within the new mark's grace period")
	w.advance(2 * time.Minute)
	if st := w.mustPrune(prune.DefaultOptions()); st.UnusedPacks < 2 {
		t.Fatalf("after it: %+v", st)
	}
	stored(false, "after the new mark's grace period")
}

// A prune host whose clock runs days ahead measures the ages of packs and
// marks on the storage's clock: a pack it marked a moment ago is not yet
// due, and a pack just written is young.
func TestPruneHostClockDaysAhead(t *testing.T) {
	w, _ := twoIngests(t)
	var logged []string
	ahead := func() prune.Stats {
		t.Helper()
		o := w.options(w.cacheDir())
		o.Now = func() time.Time { return w.clk.now().Add(72 * time.Hour) }
		r, err := repo.Open(w.ctx, w.be, o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		l, err := r.Lock(w.ctx, true, "prune")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Unlock()
		opt := prune.DefaultOptions()
		opt.Lock = l
		opt.Log = func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }
		st, err := prune.Run(l.Context(), r, opt)
		if err != nil {
			t.Fatal(err)
		}
		w.verify("after a prune with its clock ahead")
		return st
	}
	if st := ahead(); st.MarkedPacks != 2 || st.PacksDeleted != 0 {
		t.Fatalf("first prune: %+v", st)
	}
	if st := ahead(); st.PacksDeleted != 0 || st.PendingPacks != 2 {
		t.Fatalf("a prune right after: %+v, want the marked packs kept", st)
	}
	if !strings.Contains(strings.Join(logged, "\n"), "this host's clock is 72h0m0s ahead of the storage's") {
		t.Errorf("no word of the clock: %q", logged)
	}
	w.forget(w.ingestFiles(w.cacheDir(), "new", map[string][]byte{"n": random(9, 4000)}))
	if st := ahead(); st.MarkedPacks != 0 || st.GracePacks == 0 {
		t.Fatalf("a prune after an ingest, forgotten: %+v, want its packs young, not marked", st)
	}
	w.advance(prune.DefaultGracePeriod + time.Minute)
	if st := ahead(); st.UnusedPacks != 2 {
		t.Fatalf("a grace period later: %+v", st)
	}
}
