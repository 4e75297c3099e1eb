package prune_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
	"github.com/cairn-backup/cairn/repo/tree"
)

// clock is a fake wall clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// world is one repository in memory, the actors working on it, and what
// every committed snapshot must still restore to.
type world struct {
	t    testing.TB
	ctx  context.Context
	clk  *clock
	be   *mem.Mem
	tmp  string
	pool [][]byte // the contents files are made of

	committed map[id.ID]map[string][]byte // snapshot -> path -> content
	ncaches   int
}

func newWorld(t testing.TB, seed uint64) *world {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := &world{t: t, ctx: context.Background(), clk: clk, be: mem.NewWithClock(clk.now), tmp: t.TempDir(),
		committed: map[id.ID]map[string][]byte{}}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 24; i++ {
		b := make([]byte, 200+rng.IntN(1800))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		w.pool = append(w.pool, b)
	}
	opt := w.options("")
	if err := repo.Init(w.ctx, w.be, opt); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) options(cache string) repo.Options {
	return repo.Options{Password: []byte(repo.TestPassword), KDF: &repo.TestKDF, CacheDir: cache, Now: w.clk.now}
}

// cacheDir makes a new local-cache folder: one per simulated host.
func (w *world) cacheDir() string {
	w.ncaches++
	d := fmt.Sprintf("%s/cache-%d", w.tmp, w.ncaches)
	if err := os.MkdirAll(d, 0o700); err != nil {
		w.t.Fatal(err)
	}
	return d
}

// open opens the repository as a process on the host whose cache is
// cache, through be (the shared backend or a filter over it).
func (w *world) open(cache string, be backends.Backend) *repo.Repository {
	w.t.Helper()
	r, err := repo.Open(w.ctx, be, w.options(cache))
	if err != nil {
		w.t.Fatalf("open: %v", err)
	}
	return r
}

// objects lists every stored object but locks.
func (w *world) objects() map[string]bool {
	out := map[string]bool{}
	w.be.List(w.ctx, "", func(fi backends.Info) error {
		if !strings.HasPrefix(fi.Name, "locks/") {
			out[fi.Name] = true
		}
		return nil
	})
	return out
}

func (w *world) count(prefix string) int {
	n := 0
	w.be.List(w.ctx, prefix, func(backends.Info) error { n++; return nil })
	return n
}

// verify asserts that the repository holds exactly the committed
// snapshots and that each restores to its content, every blob read and
// authenticated, as a host with an empty cache sees it.
func (w *world) verify(when string) {
	w.t.Helper()
	r := w.open(w.cacheDir(), w.be)
	defer r.Close()
	snaps, err := r.Snapshots(w.ctx, nil)
	if err != nil {
		w.t.Fatalf("%s: snapshots: %v", when, err)
	}
	if len(snaps) != len(w.committed) {
		w.t.Fatalf("%s: %d snapshots stored, %d committed", when, len(snaps), len(w.committed))
	}
	for _, sn := range snaps {
		want, ok := w.committed[sn.ID]
		if !ok {
			w.t.Fatalf("%s: snapshot %s was never committed", when, sn.ID.Short())
		}
		got := map[string][]byte{}
		err := r.Walk(w.ctx, sn, func(p string, n *tree.Node) (bool, error) {
			if n.Kind != tree.KindFile {
				return true, nil
			}
			var buf []byte
			for _, c := range n.Content {
				b, err := r.LoadBlob(w.ctx, id.DataBlob, c.ID, nil)
				if err != nil {
					return false, fmt.Errorf("%s: %w", p, err)
				}
				buf = append(buf, b...)
			}
			got[p] = buf
			return false, nil
		}, nil)
		if err != nil {
			w.t.Fatalf("%s: snapshot %s is no longer restorable: %v", when, sn.ID.Short(), err)
		}
		if len(got) != len(want) {
			w.t.Fatalf("%s: snapshot %s has %d files, want %d", when, sn.ID.Short(), len(got), len(want))
		}
		for p, b := range want {
			if !bytes.Equal(got[p], b) {
				w.t.Fatalf("%s: snapshot %s: %s differs", when, sn.ID.Short(), p)
			}
		}
	}
}

// hookBackend runs a function before every call, which may fail the call.
// A dead one fails every call: its process is gone.
type hookBackend struct {
	backends.Backend
	mu     sync.Mutex
	dead   bool
	calls  int
	before func(n int, op, name string) error
}

var errCrashed = errors.New("process crashed")

func (h *hookBackend) hook(op, name string) error {
	h.mu.Lock()
	if h.dead {
		h.mu.Unlock()
		return errCrashed
	}
	n, f := h.calls, h.before
	h.calls++
	h.mu.Unlock()
	if f != nil {
		return f(n, op, name)
	}
	return nil
}

func (h *hookBackend) kill() {
	h.mu.Lock()
	h.dead = true
	h.mu.Unlock()
}

func (h *hookBackend) Unwrap() backends.Backend { return h.Backend }

func (h *hookBackend) Save(ctx context.Context, name string, data []byte) error {
	if err := h.hook("save", name); err != nil {
		return err
	}
	return h.Backend.Save(ctx, name, data)
}

func (h *hookBackend) Create(ctx context.Context, name string, data []byte) error {
	if err := h.hook("create", name); err != nil {
		return err
	}
	return h.Backend.Create(ctx, name, data)
}

func (h *hookBackend) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if err := h.hook("load", name); err != nil {
		return nil, err
	}
	return h.Backend.Load(ctx, name, off, n)
}

func (h *hookBackend) Stat(ctx context.Context, name string) (backends.Info, error) {
	if err := h.hook("stat", name); err != nil {
		return backends.Info{}, err
	}
	return h.Backend.Stat(ctx, name)
}

func (h *hookBackend) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if err := h.hook("list", prefix); err != nil {
		return err
	}
	return h.Backend.List(ctx, prefix, fn)
}

func (h *hookBackend) Remove(ctx context.Context, name string) error {
	if err := h.hook("remove", name); err != nil {
		return err
	}
	return h.Backend.Remove(ctx, name)
}

// writer is a host running ingests step by step, the way repo/ingest and
// repo.Saver do: blobs deduplicated against the local index (but for
// copies in packs marked for deletion when the ingest began) and its own
// pending ones, sealed into packs, packs uploaded, uploaded packs named by
// an index segment at each checkpoint, the snapshot written last, unless
// a pack it deduplicated against was marked for deletion meanwhile.
type writer struct {
	w     *world
	name  string
	cache string
	rng   *rand.Rand

	be     *hookBackend
	r      *repo.Repository
	lock   *repo.Lock
	pc     int // next step of the ingest program; 0: idle
	paused bool
	// The model's own view of the lease: time of the last refresh that
	// happened within LeaseGiveUp of the one before.
	lastRefresh time.Time
	lost        bool

	pending  map[id.ID]bool
	marked   map[id.ID]time.Time // packs not to rely on
	relied   map[id.ID]bool      // packs it stored or deduplicated against
	open     map[id.BlobType]*pack.Writer
	uploaded []index.Pack
	plan     []plannedFile
	files    map[string][]byte
	root     id.ID

	commits, refused int
}

// The ingest program: pc is the step about to run.
const (
	stOpen  = iota + 1 // open the repository (the local index is synced)
	stBegin            // take the shared lock (synced again)
	stData1
	stUpload1
	stCheckpoint
	stData2
	stUpload2
	stTrees
	stFinal // the last checkpoint
	stCommit
)

var stepNames = map[int]string{stOpen: "open", stBegin: "lock", stData1: "data", stUpload1: "upload", stCheckpoint: "checkpoint",
	stData2: "data", stUpload2: "upload", stTrees: "trees", stFinal: "checkpoint", stCommit: "commit"}

func (w *world) newWriter(name string, seed uint64) *writer {
	return &writer{w: w, name: name, cache: w.cacheDir(), rng: rand.New(rand.NewPCG(seed, 2)), pc: stOpen}
}

func (wr *writer) idle() bool { return wr.pc == stOpen }

// step runs the writer's next step and reports what it did.
func (wr *writer) step() string {
	w := wr.w
	w.t.Helper()
	wr.paused = false
	pc := wr.pc
	switch pc {
	case stOpen:
		wr.be = &hookBackend{Backend: w.be}
		wr.r = w.open(wr.cache, wr.be)
	case stBegin:
		l, err := wr.r.Lock(w.ctx, false, "ingest")
		if err != nil {
			if !errors.Is(err, repo.ErrLocked) {
				w.t.Fatalf("%s: lock: %v", wr.name, err)
			}
			wr.r.Close()
			wr.r, wr.pc = nil, stOpen
			return wr.name + " cannot lock"
		}
		wr.lock, wr.lastRefresh, wr.lost = l, w.clk.now(), false
		wr.pending, wr.open, wr.uploaded = map[id.ID]bool{}, map[id.BlobType]*pack.Writer{}, nil
		wr.relied = map[id.ID]bool{}
		if wr.marked, err = wr.r.MarkedPacks(w.ctx); err != nil {
			w.t.Fatalf("%s: deletion marks: %v", wr.name, err)
		}
		// Files: the common ones every ingest has, then a few drawn
		// from the pool, some made of two chunks.
		wr.plan = []plannedFile{{"common/a", []int{0}}, {"common/b", []int{1}}}
		for i := 0; i < 4; i++ {
			f := plannedFile{fmt.Sprintf("own/f%d", i), []int{2 + wr.rng.IntN(len(w.pool)-2)}}
			if wr.rng.IntN(3) == 0 {
				f.chunks = append(f.chunks, 2+wr.rng.IntN(len(w.pool)-2))
			}
			wr.plan = append(wr.plan, f)
		}
		wr.files = map[string][]byte{}
		for _, f := range wr.plan {
			var b []byte
			for _, c := range f.chunks {
				b = append(b, w.pool[c]...)
			}
			wr.files[f.path] = b
		}
	case stData1, stData2:
		wr.saveFiles(pc == stData2)
	case stUpload1, stUpload2:
		wr.upload()
	case stCheckpoint, stFinal:
		if !wr.checkpoint() {
			return wr.name + " checkpoint refused: lease lost"
		}
	case stTrees:
		wr.saveTrees()
		wr.upload()
	case stCommit:
		if why := wr.pruned(); why != "" {
			wr.refused++
			wr.finish()
			return wr.name + " commit refused: relies on a pack " + why
		}
		lost := wr.leaseLost()
		sn := &repo.Snapshot{Time: w.clk.now(), Tree: wr.root, Paths: []string{"/src"}, Host: wr.name, Source: "default"}
		err := wr.r.SaveSnapshot(w.ctx, sn)
		switch {
		case err == nil && lost:
			w.t.Fatalf("%s committed %s although its lease was lost", wr.name, sn.ID.Short())
		case err == nil:
			w.committed[sn.ID] = wr.files
			wr.commits++
		case lost && errors.Is(err, repo.ErrLeaseLost):
			wr.refused++
		default:
			w.t.Fatalf("%s: commit: %v (lease lost: %v)", wr.name, err, lost)
		}
		wr.finish()
		if err != nil {
			return wr.name + " commit refused"
		}
		return wr.name + " commit " + sn.ID.Short()
	}
	wr.pc++
	return wr.name + " " + stepNames[pc]
}

func (wr *writer) finish() {
	wr.lock.Unlock()
	wr.r.Close()
	wr.lock, wr.r, wr.pc = nil, nil, stOpen
}

// crash ends the writer's process: its lock object stays behind.
func (wr *writer) crash() string {
	if wr.idle() {
		return wr.name + " idle"
	}
	wr.be.kill()
	if wr.lock != nil {
		wr.lock.Unlock() // fails on the dead backend; stops the refresh loop
	}
	wr.r.Close()
	wr.lock, wr.r, wr.pc = nil, nil, stOpen
	return wr.name + " crashed"
}

// refresh is the lock's refresh loop, run on the fake clock.
func (wr *writer) refresh() {
	if wr.lock == nil || wr.paused {
		return
	}
	now := wr.w.clk.now()
	if now.Sub(wr.lastRefresh) > repo.LeaseGiveUp {
		wr.lost = true
	}
	err := wr.lock.Refresh(wr.w.ctx)
	switch {
	case err == nil && wr.lost:
		wr.w.t.Fatalf("%s: refresh succeeded after the lease was lost", wr.name)
	case err == nil:
		wr.lastRefresh = now
	case !errors.Is(err, repo.ErrLeaseLost) || !wr.lost:
		wr.w.t.Fatalf("%s: refresh: %v (model: lost %v)", wr.name, err, wr.lost)
	}
}

// save stores one blob unless the index or this writer has it already.
func (wr *writer) save(t id.BlobType, plain []byte) id.ID {
	c := wr.r.Codec()
	bid := c.IDFor(t, plain)
	if wr.pending[bid] {
		return bid
	}
	if loc, ok, err := wr.r.Index().Lookup(bid); err != nil {
		wr.w.t.Fatal(err)
	} else if ok {
		if p, ok := wr.usable(bid, loc.Pack); ok {
			wr.relied[p] = true
			return bid
		}
	}
	wr.pending[bid] = true
	if wr.open[t] == nil {
		wr.open[t] = pack.NewWriter(t, 1<<14)
	}
	wr.open[t].Seal(c, bid, plain)
	return bid
}

// pruned is repo/ingest's last look before it commits: it says why not
// to, when a pack the ingest stored or deduplicated against was marked for
// deletion, or taken out of the index, meanwhile.
func (wr *writer) pruned() string {
	w := wr.w
	if err := wr.r.SyncIndex(w.ctx); err != nil {
		w.t.Fatalf("%s: sync: %v", wr.name, err)
	}
	marked, err := wr.r.MarkedPacks(w.ctx)
	if err != nil {
		w.t.Fatalf("%s: deletion marks: %v", wr.name, err)
	}
	var relied []id.ID
	for pid := range wr.relied {
		if _, ok := marked[pid]; ok {
			return "marked meanwhile"
		}
		relied = append(relied, pid)
	}
	gone, err := wr.r.Index().Unindexed(relied)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(gone) > 0 {
		return "no longer indexed"
	}
	return ""
}

// usable returns a pack not marked for deletion where the index locates
// bid: first, or among the other copies.
func (wr *writer) usable(bid, first id.ID) (id.ID, bool) {
	if _, ok := wr.marked[first]; !ok {
		return first, true
	}
	alts, err := wr.r.Index().Alternatives(bid)
	if err != nil {
		wr.w.t.Fatal(err)
	}
	for _, a := range alts {
		if _, ok := wr.marked[a.Pack]; !ok {
			return a.Pack, true
		}
	}
	return id.ID{}, false
}

// plannedFile is a file of an ingest: its path and the pool contents it
// is made of.
type plannedFile struct {
	path   string
	chunks []int
}

// saveFiles stores the data of the first or the second half of the files.
func (wr *writer) saveFiles(second bool) {
	files := wr.plan[:len(wr.plan)/2]
	if second {
		files = wr.plan[len(wr.plan)/2:]
	}
	for _, f := range files {
		for _, c := range f.chunks {
			wr.save(id.DataBlob, wr.w.pool[c])
		}
	}
}

// saveTrees stores the folder trees: common/ (the same for every ingest,
// so it deduplicates across hosts), own/ and the root.
func (wr *writer) saveTrees() {
	dirs := map[string][]*tree.Node{}
	for _, f := range wr.plan {
		dir, name, _ := strings.Cut(f.path, "/")
		n := &tree.Node{Name: name, Kind: tree.KindFile, Mode: 0o644, Size: uint64(len(wr.files[f.path]))}
		for _, c := range f.chunks {
			n.Content = append(n.Content, tree.Chunk{ID: wr.r.Codec().ID(wr.w.pool[c]), Size: uint64(len(wr.w.pool[c]))})
		}
		dirs[dir] = append(dirs[dir], n)
	}
	var root []*tree.Node
	for _, d := range []string{"common", "own"} {
		b, err := tree.Encode(dirs[d])
		if err != nil {
			wr.w.t.Fatal(err)
		}
		root = append(root, &tree.Node{Name: d, Kind: tree.KindDir, Mode: 0o755, Subtree: wr.save(id.TreeBlob, b)})
	}
	b, err := tree.Encode(root)
	if err != nil {
		wr.w.t.Fatal(err)
	}
	wr.root = wr.save(id.TreeBlob, b)
}

func (wr *writer) upload() {
	for _, t := range []id.BlobType{id.DataBlob, id.TreeBlob} {
		pw := wr.open[t]
		if pw == nil || pw.Count() == 0 {
			continue
		}
		entries := append([]pack.Entry(nil), pw.Entries()...)
		data, pid := pw.Finish(wr.r.Codec().Key)
		if err := wr.be.Save(wr.w.ctx, repo.PackName(t, pid), data); err != nil {
			wr.w.t.Fatalf("%s: upload: %v", wr.name, err)
		}
		ip := index.Pack{ID: pid, Type: t}
		for _, e := range entries {
			ip.Blobs = append(ip.Blobs, index.Blob{ID: e.ID, Type: t, Pack: pid, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
		}
		wr.uploaded = append(wr.uploaded, ip)
		wr.relied[pid] = true
		delete(wr.open, t)
	}
}

// leaseLost is the model's view: no refresh within LeaseGiveUp, ever.
func (wr *writer) leaseLost() bool {
	return wr.lost || wr.w.clk.now().Sub(wr.lastRefresh) > repo.LeaseGiveUp
}

// checkpoint writes the segment naming the uploaded packs. A writer that
// lost its lease must be refused, and then gives up its ingest as
// repo/ingest does; checkpoint reports whether the ingest goes on.
func (wr *writer) checkpoint() bool {
	if len(wr.uploaded) == 0 {
		return true
	}
	lost := wr.leaseLost()
	_, err := wr.r.SaveSegment(wr.w.ctx, &repo.Segment{Packs: wr.uploaded})
	switch {
	case err == nil && lost:
		wr.w.t.Fatalf("%s wrote an index segment although its lease was lost", wr.name)
	case err != nil && lost && errors.Is(err, repo.ErrLeaseLost):
		wr.refused++
		wr.finish()
		return false
	case err != nil:
		wr.w.t.Fatalf("%s: checkpoint: %v (lease lost: %v)", wr.name, err, lost)
	}
	for _, p := range wr.uploaded {
		for _, b := range p.Blobs {
			delete(wr.pending, b.ID)
		}
	}
	wr.uploaded = nil
	return true
}

// ingest runs a whole ingest now; it reports whether it committed.
func (wr *writer) ingest() bool {
	if !wr.idle() {
		return false
	}
	before := wr.commits
	for {
		wr.step()
		if wr.idle() {
			break
		}
	}
	return wr.commits > before
}
