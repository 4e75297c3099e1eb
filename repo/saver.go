package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Checkpoint thresholds: uploaded packs are written into an index segment
// at least this often, so a killed ingest leaves reusable data behind.
const (
	CheckpointBytes    = 256 << 20
	CheckpointInterval = 3 * time.Minute
	treePackSize       = 4 << 20
)

// checkpointBlobs is how many new blobs also make a checkpoint due. Small
// files make 256 MiB of packs of hundreds of thousands of blobs, and a
// checkpoint holds each of them a few times over until it ends: in the
// blobs taken since the last one (pending), the packs' lists, and the
// local index's transaction recording them, which bbolt keeps in memory
// until it commits (some 90 MB for 300,000 tiny files). Not much fewer:
// each checkpoint rewrites the local index's nodes its blobs land in,
// nearly all of them in a large index, so more checkpoints write more. A
// variable for tests.
var checkpointBlobs = 100000

// SaverStats counts what a Saver added to the repository.
type SaverStats struct {
	BlobsAdded  int   // new blobs stored
	DataBlobs   int   // of which data blobs
	TreeBlobs   int   // of which tree blobs
	DataAdded   int64 // their plaintext bytes
	StoredAdded int64 // their stored (compressed, sealed) bytes
	Packs       int
}

// Saver stores blobs into packs and packs into the repository, in order:
// packs first (each verified before it is written), then index segments
// naming them. A blob is never stored twice: one already indexed, or
// already taken by this Saver, is skipped. Save may be called from several
// goroutines; uploads run in the background.
type Saver struct {
	r         *Repository
	ctx       context.Context
	uploaders int
	copyAll   bool // store blobs the index already has (NewRepackSaver)
	dryRun    bool // count what would be stored, store nothing (NewDryRunSaver)
	// dryTrees, when set (KeepDryTrees), holds the plaintext of the new
	// trees a dry run would have stored, so they can still be read.
	dryTrees map[id.ID][]byte

	mu      sync.Mutex
	open    map[id.BlobType]*pack.FileWriter
	pending map[id.ID]bool // taken by this saver, not yet in a written segment
	// stored, when set, holds every pack known to exist in storage and
	// not marked for deletion: a blob the index places only in other
	// packs counts as missing and is stored again (self-healing after a
	// pack was lost; no reliance on a pack a prune is about to delete).
	stored map[id.ID]bool
	healed map[id.ID]bool // blobs stored again because their packs were lost or marked
	// damaged holds blobs this run found damaged where the index locates
	// them (Damaged): stored again, not relied on, until this saver takes
	// them.
	damaged map[id.ID]bool
	// checkTrees is set once a tree was found damaged: the trees below it
	// could not be named, so every tree a Save would take as known is
	// read first, and stored again when it is damaged too.
	checkTrees atomic.Bool
	relied     map[id.ID]bool // packs stored, or that Known or KnownIn counted a blob in
	uploaded   []index.Pack   // stored, not yet in a written segment
	sinceCkpt  int64
	blobsCkpt  int // blobs in uploaded
	lastCkpt   time.Time
	stats      SaverStats
	err        error

	sem chan struct{} // bounds packs being verified and uploaded
	wg  sync.WaitGroup
	// segMu serialises segment writes.
	segMu sync.Mutex
}

// NewSaver starts a saver that runs up to uploaders pack uploads at once.
func (r *Repository) NewSaver(ctx context.Context, uploaders int) *Saver {
	if uploaders < 1 {
		uploaders = 1
	}
	return &Saver{
		r: r, ctx: ctx, uploaders: uploaders,
		open:     map[id.BlobType]*pack.FileWriter{},
		pending:  map[id.ID]bool{},
		lastCkpt: time.Now(),
		sem:      make(chan struct{}, uploaders),
	}
}

// NewRepackSaver is NewSaver for prune, which copies blobs out of packs
// it is about to delete: it stores every blob once, even one the index
// already locates.
func (r *Repository) NewRepackSaver(ctx context.Context, uploaders int) *Saver {
	s := r.NewSaver(ctx, uploaders)
	s.copyAll = true
	return s
}

// NewDryRunSaver is a saver that stores nothing: it compresses and seals
// each new blob to count what storing it would add, and drops it.
func (r *Repository) NewDryRunSaver(ctx context.Context) *Saver {
	s := r.NewSaver(ctx, 1)
	s.dryRun = true
	return s
}

// KeepDryTrees makes a dry-run saver keep the new trees it would have
// stored, for DryTree: what a dry run compares with its parent. They are
// kept in memory, so only a dry run that compares asks for them (its new
// trees are then those that differ from the parent's).
func (s *Saver) KeepDryTrees() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dryRun && s.dryTrees == nil {
		s.dryTrees = map[id.ID][]byte{}
	}
}

// DryTree returns the plaintext of a tree this dry-run saver would have
// stored, when KeepDryTrees kept it.
func (s *Saver) DryTree(tid id.ID) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.dryTrees[tid]
	return b, ok
}

// Known reports whether bid is already stored or taken by this saver.
func (s *Saver) Known(bid id.ID) (bool, error) {
	s.mu.Lock()
	p, bad := s.pending[bid], s.damaged[bid] && !s.copyAll
	if bad && !p {
		s.heal(bid)
	}
	s.mu.Unlock()
	if p || s.copyAll || bad {
		return p, nil
	}
	loc, ok, err := s.r.idx.Lookup(bid)
	if err != nil || !ok {
		return ok, err
	}
	if s.KnownIn(loc.Pack) {
		return true, nil
	}
	// Another copy the index names, in a pack that counts, will do.
	alts, err := s.r.idx.Alternatives(bid)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, alt := range alts {
		if s.stored[alt.Pack] {
			s.rely(alt.Pack)
			return true, nil
		}
	}
	s.heal(bid)
	return false, nil
}

// heal notes that bid is stored again in place of a copy that cannot be
// used: once indexed, the new copy is the one read. Under mu.
func (s *Saver) heal(bid id.ID) {
	if s.healed == nil {
		s.healed = map[id.ID]bool{}
	}
	s.healed[bid] = true
}

// Damaged tells the saver that bid could not be read where the index
// locates it (its pack is corrupt): a Save of it stores it again, and the
// new copy becomes the one read, rather than a new snapshot relying on
// the damaged one.
func (s *Saver) Damaged(bid id.ID) {
	s.checkTrees.Store(true) // the trees below it may be damaged too
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[bid] {
		return // already taken by this saver
	}
	if s.damaged == nil {
		s.damaged = map[id.ID]bool{}
	}
	s.damaged[bid] = true
}

// checkTree reads the stored tree bid, unless this saver takes it anyway,
// and marks it Damaged when it cannot be read.
func (s *Saver) checkTree(bid id.ID) {
	s.mu.Lock()
	skip := s.pending[bid] || s.damaged[bid]
	s.mu.Unlock()
	if skip {
		return
	}
	if _, err := s.r.LoadBlob(s.ctx, id.TreeBlob, bid, nil); errors.Is(err, ErrDamaged) {
		s.Damaged(bid)
	}
}

// KnownIn reports whether a blob the index locates in pack counts as
// known without asking Known: its pack is one storage has (CheckPacks) and
// the saver does not store every blob anew. False means ask Known, which
// also notes a blob to be stored again.
func (s *Saver) KnownIn(pack id.ID) bool {
	if s.copyAll {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stored == nil || s.stored[pack] {
		s.rely(pack)
		return true
	}
	return false
}

// rely notes that a blob was counted as known in pack; the caller holds
// s.mu.
func (s *Saver) rely(pack id.ID) {
	if s.relied == nil {
		s.relied = map[id.ID]bool{}
	}
	s.relied[pack] = true
}

// Relied returns the packs the saver stored, or counted a blob in: those
// a snapshot of what it saved may rely on, in ID order.
func (s *Saver) Relied() []id.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]id.ID, 0, len(s.relied))
	for pid := range s.relied {
		out = append(out, pid)
	}
	slices.SortFunc(out, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// CheckPacks makes the saver treat blobs in packs missing from stored as
// unknown, so that they are stored again, unless another copy is in a
// pack of stored. Packs it uploads are added. Leave out of stored the
// packs storage has lost and those deletion marks name (MarkedPacks).
func (s *Saver) CheckPacks(stored map[id.ID]bool) {
	s.mu.Lock()
	s.stored = stored
	s.mu.Unlock()
}

// Save stores plaintext blob plain with ID bid (the caller computed it with
// the codec) unless the repository already has it. It reports whether the
// blob was new.
func (s *Saver) Save(t id.BlobType, bid id.ID, plain []byte) (bool, error) {
	if t == id.TreeBlob && s.checkTrees.Load() {
		s.checkTree(bid)
	}
	known, err := s.Known(bid)
	if err != nil || known {
		return false, err
	}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return false, err
	}
	if s.pending[bid] {
		s.mu.Unlock()
		return false, nil
	}
	s.pending[bid] = true
	delete(s.damaged, bid)
	s.mu.Unlock()

	// Compress and seal outside the lock: this is where the CPU goes.
	sealed := s.r.codec.SealPooled(t, bid, plain)
	defer bufpool.Put(sealed)

	s.mu.Lock()
	if s.dryRun {
		s.count(t, len(plain), len(sealed))
		if t == id.TreeBlob && s.dryTrees != nil {
			s.dryTrees[bid] = bytes.Clone(plain)
		}
		s.mu.Unlock()
		return true, nil
	}
	w := s.open[t]
	if w == nil {
		f, err := s.tempFile()
		if err != nil {
			s.fail(err)
			s.mu.Unlock()
			return false, err
		}
		w = pack.NewFileWriter(t, f)
		s.open[t] = w
	}
	if err := w.AddSealed(bid, sealed, len(plain)); err != nil {
		err = fmt.Errorf("write pack: %w", err)
		s.fail(err)
		s.mu.Unlock()
		return false, err
	}
	s.count(t, len(plain), len(sealed))
	var ready *pack.FileWriter
	if w.Size() >= int64(s.packSize(t)) {
		ready = w
		delete(s.open, t)
	}
	s.mu.Unlock()
	if ready != nil {
		s.upload(ready)
	}
	return true, nil
}

// count adds a new blob to the stats; the caller holds s.mu.
func (s *Saver) count(t id.BlobType, plain, sealed int) {
	s.stats.BlobsAdded++
	if t == id.DataBlob {
		s.stats.DataBlobs++
	} else {
		s.stats.TreeBlobs++
	}
	s.stats.DataAdded += int64(plain)
	s.stats.StoredAdded += int64(sealed)
}

// fail records the first error; the caller holds s.mu.
func (s *Saver) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// tempFile makes the file a new pack is written to: in the repository
// itself when the backend can move files into place, else in the system's
// temporary folder. There it is unlinked at once (store reads it back
// through the descriptor only), so that a run killed with SIGKILL leaves
// no pack file behind in /tmp.
func (s *Saver) tempFile() (*os.File, error) {
	if fs, ok := s.r.be.(backends.FileSaver); ok {
		return fs.TempFile()
	}
	f, err := os.CreateTemp("", "cairn-pack-*")
	if err == nil {
		os.Remove(f.Name())
	}
	return f, err
}

// discard closes and removes a pack file that will not be stored. One
// in the temporary folder was unlinked when it was made: its name may be
// another file's by now, which is left alone.
func discard(f *os.File) {
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	if named, err := os.Lstat(f.Name()); err == nil && os.SameFile(fi, named) {
		os.Remove(f.Name())
	}
}

// SaveTree encodes and saves a directory's nodes, returning the tree's ID.
func (s *Saver) SaveTree(nodes []*tree.Node) (id.ID, error) {
	b, err := tree.Encode(nodes)
	if err != nil {
		return id.Zero, err
	}
	tid := s.r.codec.IDFor(id.TreeBlob, b)
	_, err = s.Save(id.TreeBlob, tid, b)
	return tid, err
}

func (s *Saver) packSize(t id.BlobType) int {
	if t == id.TreeBlob {
		return treePackSize
	}
	return s.r.cfg.PackSize
}

// upload verifies and stores a full pack in the background. It blocks while
// as many uploads as allowed are running, which bounds the work in flight.
func (s *Saver) upload(w *pack.FileWriter) {
	s.sem <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.sem; s.wg.Done() }()
		if err := s.store(w); err != nil {
			s.mu.Lock()
			s.fail(err)
			s.mu.Unlock()
		}
	}()
}

// store finishes a pack file, re-reads and verifies every blob in it, and
// only then stores it.
func (s *Saver) store(w *pack.FileWriter) error {
	f := w.File()
	size, err := w.Finish(s.r.key)
	if err != nil {
		discard(f)
		return fmt.Errorf("write pack: %w", err)
	}
	pid, entries, err := pack.VerifyFile(s.r.codec, f, size)
	if err != nil {
		discard(f)
		return fmt.Errorf("verify pack before writing: %w (this is a bug or failing memory or disk; nothing was stored)", err)
	}
	name := PackName(w.Type, pid)
	if fs, ok := s.r.be.(backends.FileSaver); ok {
		err = fs.SaveFile(s.ctx, name, f)
	} else {
		data := bufpool.Get(int(size))[:size]
		_, err = f.ReadAt(data, 0)
		discard(f)
		if err == nil {
			err = s.r.be.Save(s.ctx, name, data)
		}
		bufpool.Put(data)
	}
	if err != nil {
		return fmt.Errorf("save pack %s: %w", name, err)
	}
	p := index.Pack{ID: pid, Type: w.Type, Blobs: make([]index.Blob, len(entries))}
	for i, e := range entries {
		p.Blobs[i] = index.Blob{ID: e.ID, Type: e.Type, Pack: pid, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	}
	s.mu.Lock()
	if s.stored != nil {
		s.stored[pid] = true
	}
	s.rely(pid)
	s.uploaded = append(s.uploaded, p)
	s.stats.Packs++
	s.sinceCkpt += size
	s.blobsCkpt += len(entries)
	due := s.sinceCkpt >= s.r.ckptBytes || s.blobsCkpt >= checkpointBlobs || time.Since(s.lastCkpt) >= CheckpointInterval
	s.mu.Unlock()
	if due {
		return s.checkpoint()
	}
	return nil
}

// checkpoint writes the uploaded packs not yet named by a segment into one.
func (s *Saver) checkpoint() error {
	s.segMu.Lock()
	defer s.segMu.Unlock()
	s.mu.Lock()
	packs := s.uploaded
	s.uploaded = nil
	s.sinceCkpt, s.blobsCkpt = 0, 0
	s.lastCkpt = time.Now()
	s.mu.Unlock()
	if len(packs) == 0 {
		return nil
	}
	// In segments of bounded size: millions of small files between two
	// checkpoints would otherwise make one segment of hundreds of MiB.
	saved := 0
	var serr error
	for _, run := range SplitSegments(packs, segmentBlobs) {
		if _, serr = s.r.SaveSegment(s.ctx, &Segment{Packs: run}); serr != nil {
			break
		}
		saved += len(run)
	}
	if serr != nil {
		s.mu.Lock()
		s.uploaded = append(packs[saved:len(packs):len(packs)], s.uploaded...)
		for _, p := range packs[saved:] {
			s.blobsCkpt += len(p.Blobs)
		}
		s.mu.Unlock()
		packs = packs[:saved]
	}
	// Blobs stored again in place of a lost pack's: their new copies are
	// the ones to read from now on.
	s.mu.Lock()
	var moved []index.Pack
	for _, p := range packs {
		var bs []index.Blob
		for _, b := range p.Blobs {
			if s.healed[b.ID] {
				bs = append(bs, b)
				delete(s.healed, b.ID)
			}
		}
		if len(bs) > 0 {
			moved = append(moved, index.Pack{ID: p.ID, Type: p.Type, Blobs: bs})
		}
	}
	s.mu.Unlock()
	if len(moved) > 0 {
		if err := s.r.idx.Relocate(moved); err != nil {
			return fmt.Errorf("local index: %w", err)
		}
	}
	s.mu.Lock()
	for _, p := range packs {
		for _, b := range p.Blobs {
			delete(s.pending, b.ID)
		}
	}
	s.mu.Unlock()
	if serr != nil {
		return fmt.Errorf("write index segment: %w", serr)
	}
	return nil
}

// Flush closes the open packs, waits for every upload and writes the index
// segment naming them. After Flush returns nil every blob saved so far is
// durable and indexed: a snapshot may refer to it.
func (s *Saver) Flush() error {
	if s.dryRun {
		return s.ctx.Err()
	}
	s.mu.Lock()
	var ws []*pack.FileWriter
	for t, w := range s.open {
		if w.Count() > 0 {
			ws = append(ws, w)
		} else {
			discard(w.File())
		}
		delete(s.open, t)
	}
	s.mu.Unlock()
	for _, w := range ws {
		s.upload(w)
	}
	s.wg.Wait()
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		// The packs that were stored before the failure (a full disk, a
		// refused upload) are indexed all the same, so that the next
		// ingest reuses them instead of storing them again beside them.
		// One line, as the CLI prints an error after "cairn: ".
		if cerr := s.checkpoint(); cerr != nil {
			return fmt.Errorf("%w; the packs stored before it are not indexed either: %w", err, cerr)
		}
		return err
	}
	if err := s.checkpoint(); err != nil {
		return err
	}
	if s.ctx.Err() != nil {
		return errors.Join(s.ctx.Err())
	}
	return nil
}

// Stats returns what the saver has added so far.
func (s *Saver) Stats() SaverStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
