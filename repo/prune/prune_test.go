package prune_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/prune"
	"github.com/cairn-backup/cairn/repo/tree"
)

// ingestFiles ingests a folder holding files through repo/ingest, under a
// shared lock, and records the snapshot as committed.
func (w *world) ingestFiles(cache, sub string, files map[string][]byte) *repo.Snapshot {
	w.t.Helper()
	dir := filepath.Join(w.tmp, sub)
	os.RemoveAll(dir)
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	r := w.open(cache, w.be)
	defer r.Close()
	l, err := r.Lock(w.ctx, false, "ingest")
	if err != nil {
		w.t.Fatal(err)
	}
	defer l.Unlock()
	res, err := ingest.Run(l.Context(), r, ingest.Options{Paths: []string{dir}, Host: "h"})
	if err != nil {
		w.t.Fatal(err)
	}
	want := map[string][]byte{}
	for name, b := range files {
		want[strings.TrimPrefix(filepath.Join(dir, name), "/")] = b
	}
	w.committed[res.Snapshot.ID] = want
	return res.Snapshot
}

// forget removes a snapshot object, as `cairn forget` does.
func (w *world) forget(sn *repo.Snapshot) {
	w.t.Helper()
	if err := w.be.Remove(w.ctx, "snapshots/"+sn.ID.String()); err != nil {
		w.t.Fatal(err)
	}
	delete(w.committed, sn.ID)
}

func (w *world) advance(d time.Duration) { w.clk.set(w.clk.now().Add(d)) }

// prune runs prune from a host of its own under the exclusive lock.
func (w *world) prune(opt prune.Options) (prune.Stats, error) {
	w.t.Helper()
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	l, err := r.Lock(w.ctx, true, "prune")
	if err != nil {
		w.t.Fatal(err)
	}
	defer l.Unlock()
	opt.Lock = l
	return prune.Run(l.Context(), r, opt)
}

func (w *world) mustPrune(opt prune.Options) prune.Stats {
	w.t.Helper()
	st, err := w.prune(opt)
	if err != nil {
		w.t.Fatalf("prune: %v", err)
	}
	w.verify("after prune")
	return st
}

func random(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// twoIngests makes a repository whose first snapshot, forgotten, leaves a
// data pack with one used blob (a, shared with the second snapshot) and
// one large unused one (b), and a tree pack nothing uses; then time
// passes beyond the grace period.
func twoIngests(t *testing.T) (*world, *repo.Snapshot) {
	w := newWorld(t, 1)
	cache := w.cacheDir()
	a := random(1, 3000)
	first := w.ingestFiles(cache, "src", map[string][]byte{"a": a, "b": random(2, 60000)})
	w.advance(time.Hour)
	second := w.ingestFiles(cache, "src", map[string][]byte{"a": a, "c": random(3, 2000)})
	w.forget(first)
	w.advance(prune.DefaultGracePeriod + time.Hour)
	return w, second
}

// Prune deletes in two phases: the first run marks the unused tree pack
// and the mostly unused data pack for deletion (copying the used blob out
// of the latter) and deletes nothing; a run within the grace period after
// that leaves everything alone; a run after it deletes the two packs.
func TestPruneFreesAndRepacks(t *testing.T) {
	w, _ := twoIngests(t)
	before := w.count("data/") + w.count("tree/")
	st := w.mustPrune(prune.DefaultOptions())
	if st.MarkedPacks != 2 || st.RepackPacks != 1 || st.RepackBlobs != 1 || st.UnusedPacks != 0 || st.UnreferencedPacks != 0 || st.GracePacks != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.PacksDeleted != 0 || st.PacksWritten != 1 || st.MarksWritten != 1 || st.UnusedAfter != 0 {
		t.Fatalf("stats %+v", st)
	}
	if after := w.count("data/") + w.count("tree/"); after != before+1 {
		t.Fatalf("%d packs before, %d after", before, after)
	}
	if n := w.count("condemned/"); n != 1 {
		t.Fatalf("%d deletion marks", n)
	}
	// Within the grace period a second prune leaves everything alone.
	w.advance(prune.DefaultGracePeriod - time.Minute)
	st = w.mustPrune(prune.DefaultOptions())
	if st.PacksDeleted != 0 || st.RepackPacks != 0 || st.MarkedPacks != 0 || st.PendingPacks != 2 || st.SegmentsWritten != 0 {
		t.Fatalf("second prune: %+v", st)
	}
	// After it, the marked packs go, and their mark with them.
	w.advance(2 * time.Minute)
	st = w.mustPrune(prune.DefaultOptions())
	if st.UnusedPacks != 2 || st.PacksDeleted != 2 || st.BytesFreed <= 60000 || st.RepackPacks != 0 || st.MarkedPacks != 0 || st.MarksDeleted != 1 {
		t.Fatalf("third prune: %+v", st)
	}
	if after := w.count("data/") + w.count("tree/"); after != before-1 {
		t.Fatalf("%d packs before, %d after", before, after)
	}
	if n := w.count("condemned/"); n != 0 {
		t.Fatalf("%d deletion marks left", n)
	}
	// The new pack is young: a fourth prune leaves everything alone.
	st = w.mustPrune(prune.DefaultOptions())
	if st.PacksDeleted != 0 || st.RepackPacks != 0 || st.UnusedBytes != 0 || st.SegmentsWritten != 0 || st.MarkedPacks != 0 {
		t.Fatalf("fourth prune: %+v", st)
	}
	if n := w.count("index/"); n != 1 {
		t.Fatalf("%d index segments: want the compacted one", n)
	}
}

func TestPruneMaxUnused(t *testing.T) {
	for _, tc := range []struct {
		max    float64
		repack int
	}{{0, 1}, {5, 1}, {90, 1}, {92, 0}, {100, 0}} {
		w, _ := twoIngests(t)
		opt := prune.DefaultOptions()
		opt.MaxUnused = tc.max
		st := w.mustPrune(opt)
		if st.RepackPacks != tc.repack || st.MarkedPacks != 1+tc.repack {
			t.Fatalf("max unused %g%%: stats %+v", tc.max, st)
		}
		if tc.repack == 0 && st.UnusedAfter < 60000 {
			t.Fatalf("max unused %g%%: %d bytes unused after, want the unused blob's", tc.max, st.UnusedAfter)
		}
		w.advance(prune.DefaultGracePeriod + time.Minute)
		if st := w.mustPrune(opt); st.UnusedPacks != 1+tc.repack || st.RepackPacks != 0 {
			t.Fatalf("max unused %g%%: second prune: stats %+v", tc.max, st)
		}
	}
}

func TestPruneGracePeriod(t *testing.T) {
	w := newWorld(t, 2)
	wr := w.newWriter("w", 1)
	wr.ingest()
	w.advance(time.Hour)
	second := w.newWriter("v", 2)
	second.ingest()
	// An ingest that uploaded a pack, checkpointed, uploaded another,
	// and died: one indexed pack no snapshot uses, one pack in no index.
	for i := 0; i < stData2; i++ {
		wr.step()
	}
	wr.step() // upload
	wr.crash()
	// And the older snapshot forgotten: its packs are unused, some of
	// them shared with the second snapshot.
	w.forget(mustSnapshots(t, w)[0])

	w.advance(repo.StaleAfter + time.Minute)
	before := w.objects()
	st := w.mustPrune(prune.DefaultOptions())
	if st.PacksDeleted != 0 || st.GracePacks == 0 {
		t.Fatalf("young data was touched: %+v", st)
	}
	for name := range before {
		if strings.HasPrefix(name, "data/") || strings.HasPrefix(name, "tree/") {
			if !w.objects()[name] {
				t.Fatalf("young pack %s deleted", name)
			}
		}
	}

	// A shorter grace period, still longer than a stale lock: what is
	// unreferenced or unused is marked, and goes once marked for that
	// long.
	w.advance(2 * time.Hour)
	opt := prune.DefaultOptions()
	opt.GracePeriod = 2 * time.Hour
	st = w.mustPrune(opt)
	if st.MarkedPacks < 2 || st.PacksDeleted != 0 || st.GracePacks != 0 {
		t.Fatalf("old data was not marked: %+v", st)
	}
	marked := st.MarkedPacks
	w.advance(time.Hour)
	if st = w.mustPrune(opt); st.PacksDeleted != 0 || st.PendingPacks != marked {
		t.Fatalf("marked data deleted within the grace period: %+v", st)
	}
	w.advance(time.Hour + time.Minute)
	if st = w.mustPrune(opt); st.UnreferencedPacks != 1 || st.PacksDeleted != marked || st.PendingPacks != 0 {
		t.Fatalf("marked data kept after the grace period: %+v", st)
	}

	opt.GracePeriod = repo.StaleAfter
	if _, err := w.prune(opt); err == nil || !strings.Contains(err.Error(), "grace period") {
		t.Fatalf("a grace period of %s: %v", repo.StaleAfter, err)
	}
}

func mustSnapshots(t *testing.T, w *world) []*repo.Snapshot {
	t.Helper()
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	snaps, err := r.Snapshots(w.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

// storedBytes is every object but the locks, with its content.
func (w *world) storedBytes() map[string][]byte {
	out := map[string][]byte{}
	for name := range w.objects() {
		b, err := w.be.Load(w.ctx, name, 0, -1)
		if err != nil {
			w.t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// A dry run changes nothing and says what a real run then does: mark
// (and repack), and a grace period later, delete.
func TestPruneDryRun(t *testing.T) {
	w, _ := twoIngests(t)
	dryRun := func() prune.Stats {
		t.Helper()
		before := w.storedBytes()
		r := w.open(w.cacheDir(), w.be)
		defer r.Close()
		opt := prune.DefaultOptions()
		opt.DryRun = true
		dry, err := prune.Run(w.ctx, r, opt)
		if err != nil {
			t.Fatal(err)
		}
		after := w.storedBytes()
		if len(after) != len(before) {
			t.Fatalf("dry run: %d objects before, %d after", len(before), len(after))
		}
		for name, b := range before {
			if !bytes.Equal(after[name], b) {
				t.Fatalf("dry run changed %s", name)
			}
		}
		return dry
	}
	same := func(dry, real prune.Stats) {
		t.Helper()
		if real.PacksDeleted != dry.PacksDeleted || real.BytesDeleted != dry.BytesDeleted || real.RepackBlobs != dry.RepackBlobs ||
			real.BytesWritten != dry.BytesWritten || real.BytesFreed != dry.BytesFreed || real.MarkedPacks != dry.MarkedPacks ||
			real.MarkedBytes != dry.MarkedBytes || real.PendingPacks != dry.PendingPacks {
			t.Fatalf("the dry run said %+v, the real run did %+v", dry, real)
		}
	}
	dry := dryRun()
	if !dry.DryRun || dry.PacksDeleted != 0 || dry.MarkedPacks != 2 || dry.RepackPacks != 1 || dry.BytesWritten <= 0 {
		t.Fatalf("dry run stats %+v", dry)
	}
	same(dry, w.mustPrune(prune.DefaultOptions()))
	w.advance(prune.DefaultGracePeriod + time.Minute)
	dry = dryRun()
	if dry.PacksDeleted != 2 || dry.RepackPacks != 0 || dry.BytesFreed <= 60000 {
		t.Fatalf("dry run stats %+v", dry)
	}
	same(dry, w.mustPrune(prune.DefaultOptions()))
}

// Prune without the exclusive lock is refused before it looks at anything.
func TestPruneNeedsExclusiveLock(t *testing.T) {
	w, _ := twoIngests(t)
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	if _, err := prune.Run(w.ctx, r, prune.DefaultOptions()); err == nil {
		t.Fatal("prune ran without a lock")
	}
	l, err := r.Lock(w.ctx, false, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	opt := prune.DefaultOptions()
	opt.Lock = l
	if _, err := prune.Run(w.ctx, r, opt); err == nil || !strings.Contains(err.Error(), "exclusive") {
		t.Fatalf("prune under a shared lock: %v", err)
	}
}

// Each damaged or doubtful repository makes prune refuse, naming what to
// run, and change nothing.
func TestPruneFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(w *world, second *repo.Snapshot) (fail func(op, name string) error)
		want  string // in the message
	}{
		{"list error on packs", func(*world, *repo.Snapshot) func(string, string) error {
			return failOn("list", "data/")
		}, "list data packs"},
		{"list error on deletion marks", func(*world, *repo.Snapshot) func(string, string) error {
			return failOn("list", "condemned/")
		}, "deletion marks"},
		{"list error on the index", func(*world, *repo.Snapshot) func(string, string) error {
			return failOn("list", "index/")
		}, "index segments"},
		{"list error on snapshots", func(*world, *repo.Snapshot) func(string, string) error {
			return failOn("list", "snapshots/")
		}, "read snapshots"},
		{"unreadable index segment", func(*world, *repo.Snapshot) func(string, string) error {
			return failOn("load", "index/")
		}, "read index segment"},
		{"unreadable tree pack", func(*world, *repo.Snapshot) func(string, string) error {
			return failOn("load", "tree/")
		}, "make sure the storage is reachable and run prune again"},
		{"damaged tree", func(w *world, sn *repo.Snapshot) func(string, string) error {
			w.damageTree(sn.Tree)
			return nil
		}, "cannot be read"},
		{"blob missing from the index", func(w *world, sn *repo.Snapshot) func(string, string) error {
			w.danglingSnapshot()
			return nil
		}, "1 blob is used by snapshots but in no index segment"},
		{"indexed pack missing", func(w *world, sn *repo.Snapshot) func(string, string) error {
			w.removeSome("data/")
			return nil
		}, "missing from storage"},
		{"no index segment", func(w *world, sn *repo.Snapshot) func(string, string) error {
			w.removeSome("index/")
			w.removeSome("index/")
			return nil
		}, "no index segment"},
		{"no snapshot", func(w *world, sn *repo.Snapshot) func(string, string) error {
			w.forget(sn)
			return nil
		}, "--unsafe-allow-no-snapshots"},
		{"damaged snapshot", func(w *world, sn *repo.Snapshot) func(string, string) error {
			name := "snapshots/" + sn.ID.String()
			b, _ := w.be.Load(w.ctx, name, 0, -1)
			b[len(b)/2] ^= 1
			w.be.Save(w.ctx, name, b)
			return nil
		}, "cairn repair snapshots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, second := twoIngests(t)
			fail := tc.setup(w, second)
			before := w.storedBytes()
			hb := &hookBackend{Backend: w.be}
			r := w.open(w.cacheDir(), hb)
			defer r.Close()
			l, err := r.Lock(w.ctx, true, "prune")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			if fail != nil {
				hb.before = func(_ int, op, name string) error { return fail(op, name) }
			}
			opt := prune.DefaultOptions()
			opt.Lock = l
			_, err = prune.Run(w.ctx, r, opt)
			hb.before = nil
			if !errors.Is(err, prune.ErrRefused) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was deleted") {
				t.Fatalf("got %v, want a refusal mentioning %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "run ") {
				t.Errorf("%v: says nothing of what to run", err)
			}
			after := w.storedBytes()
			if len(after) != len(before) {
				t.Fatalf("%d objects before, %d after", len(before), len(after))
			}
			for name := range before {
				if after[name] == nil {
					t.Fatalf("%s deleted", name)
				}
			}
		})
	}
}

var errInjected = errors.New("injected failure")

func failOn(op, prefix string) func(string, string) error {
	return func(o, name string) error {
		if o == op && strings.HasPrefix(name, prefix) {
			return errInjected
		}
		return nil
	}
}

// damageTree flips a bit in the stored copy of a tree blob.
func (w *world) damageTree(tid id.ID) {
	w.t.Helper()
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	loc, ok, err := r.LookupBlob(tid)
	if err != nil || !ok {
		w.t.Fatalf("tree %s: %v", tid.Short(), err)
	}
	name := repo.PackName(id.TreeBlob, loc.Pack)
	b, _ := w.be.Load(w.ctx, name, 0, -1)
	b[loc.Offset+loc.Length/2] ^= 1
	w.be.Save(w.ctx, name, b)
}

// danglingSnapshot commits a snapshot whose file names a data blob that
// is stored nowhere.
func (w *world) danglingSnapshot() {
	w.t.Helper()
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	s := r.NewSaver(w.ctx, 1)
	var ghost id.ID
	ghost[0] = 1
	tid, err := s.SaveTree([]*tree.Node{{Name: "f", Kind: tree.KindFile, Size: 1, Content: []tree.Chunk{{ID: ghost, Size: 1}}}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		w.t.Fatal(err)
	}
	if err := r.SaveSnapshot(w.ctx, &repo.Snapshot{Time: w.clk.now(), Tree: tid, Paths: []string{"/f"}, Host: "h"}); err != nil {
		w.t.Fatal(err)
	}
}

// removeSome removes one object under prefix.
func (w *world) removeSome(prefix string) {
	w.t.Helper()
	var name string
	w.be.List(w.ctx, prefix, func(fi backends.Info) error {
		if name == "" {
			name = fi.Name
		}
		return nil
	})
	if name == "" {
		return
	}
	if err := w.be.Remove(w.ctx, name); err != nil {
		w.t.Fatal(err)
	}
}

func TestPruneAllowNoSnapshots(t *testing.T) {
	w, second := twoIngests(t)
	w.forget(second)
	opt := prune.DefaultOptions()
	opt.AllowNoSnapshots = true
	st := w.mustPrune(opt)
	if st.MarkedPacks != st.Packs || st.PacksDeleted != 0 {
		t.Fatalf("stats %+v", st)
	}
	w.advance(prune.DefaultGracePeriod + time.Minute)
	st = w.mustPrune(opt)
	if st.PacksDeleted != st.Packs || w.count("data/")+w.count("tree/") != 0 || w.count("condemned/") != 0 {
		t.Fatalf("stats %+v; %d packs left", st, w.count("data/")+w.count("tree/"))
	}
	// An empty segment records what the index replaced.
	if n := w.count("index/"); n != 1 {
		t.Fatalf("%d index segments", n)
	}
	st = w.mustPrune(opt)
	if st.Packs != 0 || st.SegmentsWritten != 0 {
		t.Fatalf("second prune: %+v", st)
	}
}

// A prune that stops after writing the compacted index, before deleting
// the old segments, leaves a repository every reader sees right; the next
// prune finishes the job.
func TestPruneStopsAfterNewIndex(t *testing.T) {
	w, _ := twoIngests(t)
	w.mustPrune(prune.DefaultOptions()) // marks two packs
	w.advance(prune.DefaultGracePeriod + time.Minute)
	hb := &hookBackend{Backend: w.be}
	r := w.open(w.cacheDir(), hb)
	l, err := r.Lock(w.ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	fail := failOn("remove", "index/")
	hb.before = func(_ int, op, name string) error { return fail(op, name) }
	opt := prune.DefaultOptions()
	opt.Lock = l
	st, err := prune.Run(w.ctx, r, opt)
	if !errors.Is(err, errInjected) || st.SegmentsWritten != 1 || st.PacksDeleted != 0 {
		t.Fatalf("got %v, %+v", err, st)
	}
	hb.before = nil
	l.Unlock()
	r.Close()
	// The old segments are still there, superseded; the packs too.
	if n := w.count("index/"); n < 2 {
		t.Fatalf("%d index segments", n)
	}
	w.verify("after a prune stopped before deleting")
	// What the new index left out is now in no segment, and old.
	st = w.mustPrune(prune.DefaultOptions())
	if st.PacksDeleted != 2 || st.UnreferencedPacks != 2 || st.RepackPacks != 0 || st.MarksDeleted != 1 {
		t.Fatalf("second prune: %+v", st)
	}
	if n := w.count("index/"); n != 1 {
		t.Fatalf("%d index segments after the second prune", n)
	}
}

// A real ingest whose lease lapses while it runs must not commit: here a
// prune runs meanwhile and deletes the old, unused packs it deduplicated
// against.
func TestIngestWithLostLeaseDoesNotCommit(t *testing.T) {
	w := newWorld(t, 3)
	files := map[string][]byte{"a": random(4, 5000), "b": random(5, 7000)}
	first := w.ingestFiles(w.cacheDir(), "src", files)
	w.ingestFiles(w.cacheDir(), "other", map[string][]byte{"x": random(6, 100)})
	w.forget(first)
	w.advance(prune.DefaultGracePeriod + time.Hour)
	w.mustPrune(prune.DefaultOptions()) // marks the forgotten snapshot's packs
	w.advance(prune.DefaultGracePeriod + time.Hour)

	dir := filepath.Join(w.tmp, "src")
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	l, err := r.Lock(w.ctx, false, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	var pst prune.Stats
	opt := ingest.Options{Paths: []string{dir}, Host: "h", BeforeCommit: func() error {
		// The process stops for longer than a stale lock; a prune on
		// another host finds the lock stale and runs.
		w.advance(repo.StaleAfter + time.Minute)
		var err error
		pst, err = w.prune(prune.DefaultOptions())
		return err
	}}
	_, err = ingest.Run(l.Context(), r, opt)
	if !errors.Is(err, repo.ErrLeaseLost) {
		t.Fatalf("ingest with a lost lease: %v", err)
	}
	if pst.PacksDeleted == 0 {
		t.Fatalf("the prune deleted nothing (%+v): the test does not test anything", pst)
	}
	if n := w.count("snapshots/"); n != 1 {
		t.Fatalf("%d snapshots written", n)
	}
	w.verify("after the refused commit")
}

func TestStatsAddUp(t *testing.T) {
	w, _ := twoIngests(t)
	for i := 0; i < 2; i++ {
		st := w.mustPrune(prune.Options{MaxUnused: 0})
		if st.BytesFreed != st.BytesDeleted-st.BytesWritten || st.BytesDeleted != st.UnreferencedBytes+st.UnusedPackBytes ||
			st.PacksDeleted != st.UnreferencedPacks+st.UnusedPacks {
			t.Fatalf("stats do not add up: %+v", st)
		}
		if st.Snapshots != 1 || st.UsedBlobs == 0 || st.UsedBytes == 0 || st.MarkedPacks+st.PacksDeleted == 0 {
			t.Fatalf("stats %+v", st)
		}
		w.advance(prune.DefaultGracePeriod + time.Minute)
	}
}

// A used blob that fails authentication while its pack is being repacked
// stops prune before anything is deleted.
func TestPruneRepackDamagedBlob(t *testing.T) {
	w, _ := twoIngests(t)
	r := w.open(w.cacheDir(), w.be)
	bid := r.Codec().ID(random(1, 3000)) // file a, shared, in the pack to repack
	loc, ok, err := r.LookupBlob(bid)
	r.Close()
	if err != nil || !ok {
		t.Fatalf("blob a: %v", err)
	}
	name := repo.PackName(id.DataBlob, loc.Pack)
	b, _ := w.be.Load(w.ctx, name, 0, -1)
	b[loc.Offset+loc.Length/2] ^= 1
	w.be.Save(w.ctx, name, b)
	w.advance(prune.DefaultGracePeriod + time.Hour) // saving made the pack young
	before := w.objects()
	_, err = w.prune(prune.DefaultOptions())
	if !errors.Is(err, repo.ErrDamaged) || !strings.Contains(err.Error(), "nothing was deleted") || !strings.Contains(err.Error(), "cairn check --read-data") {
		t.Fatalf("got %v", err)
	}
	for name := range before {
		if !w.objects()[name] {
			t.Fatalf("%s deleted", name)
		}
	}
}

// A prune that stalls while it writes the new index, for longer than a
// stale lock, takes the new index back and deletes nothing: a writer may
// have started meanwhile and deduplicated against what it leaves out.
func TestPruneStalledTakesIndexBack(t *testing.T) {
	w, _ := twoIngests(t)
	before := w.storedBytes()
	hb := &hookBackend{Backend: w.be}
	r := w.open(w.cacheDir(), hb)
	defer r.Close()
	l, err := r.Lock(w.ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	stalled := false
	hb.before = func(_ int, op, name string) error {
		// The compacted index, not the repack's segment written before
		// it (the two old segments and that one are stored by then).
		if op == "save" && strings.HasPrefix(name, "index/") && !stalled && w.count("index/") == 3 {
			stalled = true
			w.advance(repo.StaleAfter + time.Minute)
		}
		return nil
	}
	opt := prune.DefaultOptions()
	opt.Lock = l
	st, err := prune.Run(l.Context(), r, opt)
	if !stalled || !errors.Is(err, repo.ErrLeaseLost) || st.SegmentsWritten != 0 || st.PacksDeleted != 0 {
		t.Fatalf("stalled %v: %v, %+v", stalled, err, st)
	}
	after := w.storedBytes()
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Fatalf("%s changed or deleted", name)
		}
	}
	// What is left: the old objects, the repacked pack and its segment,
	// and the deletion mark.
	if len(after) != len(before)+3 || w.count("condemned/") != 1 {
		t.Fatalf("%d objects before, %d after", len(before), len(after))
	}
	w.verify("after the stalled prune")
}

// Unused data in packs younger than the grace period stays: prune must not
// report it gone ("unused left: 0 B") when it left every byte of it.
func TestPruneUnusedAfterCountsYoungPacks(t *testing.T) {
	w := newWorld(t, 1)
	cache := w.cacheDir()
	a := random(1, 3000)
	first := w.ingestFiles(cache, "src", map[string][]byte{"a": a, "b": random(2, 60000)})
	w.advance(time.Hour)
	w.ingestFiles(cache, "src", map[string][]byte{"a": a, "c": random(3, 2000)})
	w.forget(first)
	w.advance(time.Hour)
	for _, dry := range []bool{true, false} {
		opt := prune.DefaultOptions()
		opt.DryRun = dry
		st := w.mustPrune(opt)
		if st.GracePacks == 0 || st.PacksDeleted != 0 || st.MarkedPacks != 0 || st.RepackPacks != 0 {
			t.Fatalf("dry run %v: young packs touched: %+v", dry, st)
		}
		if st.UnusedBytes < 60000 || st.UnusedAfter != st.UnusedBytes {
			t.Fatalf("dry run %v: %d bytes unused before, %d reported left after a run that changed nothing", dry, st.UnusedBytes, st.UnusedAfter)
		}
	}
}
