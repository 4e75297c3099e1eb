package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restic/chunker"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	gear "github.com/cairn-backup/cairn/repo/chunker"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// Repository is an opened repository. Its methods are safe for concurrent
// use.
type Repository struct {
	be  backends.Backend
	cfg *Config
	key *crypto.Key
	// keyName is the key file the password opened ("keys/<hex>").
	keyName string
	codec   *pack.Codec
	idx     *index.DB
	pol     chunker.Pol // with ChunkerRabin
	gear    *gear.Table // with ChunkerGear

	tmpCache  string // a private cache folder to remove on Close, if any
	resident  string // the resident note to remove on Close, if any
	longLived bool   // Options.Resident: others (a live mount) share r.idx
	catalogue bool   // Options.CatalogueOnly: SyncIndex does nothing
	cacheDir  string // the shared local index's folder, when resident
	logf      func(format string, args ...any)
	progress  func(step string, done, total int) // Options.Progress

	pubMu                sync.Mutex
	pubRunning, pubAgain bool
	pubDone              bool // a copy was published, of generation pubGen
	pubGen               int
	ckptBytes            int64
	syncMu               sync.Mutex
	damagedSegs          map[id.ID]bool // segments SyncIndex left out as damaged, reported once
	now                  func() time.Time

	locksMu sync.Mutex
	locks   map[*Lock]bool // held through this Repository
}

// Options say how to open a repository.
type Options struct {
	Password []byte
	// CacheDir holds one local index per repository ID. Empty means the
	// user's cache dir (XDG) + "/cairn".
	CacheDir string
	// KDF overrides the argon2id cost for Init (tests use a cheap one).
	KDF *crypto.KDFParams
	// Log receives one-line notices (cache rebuilt, waiting for a lock).
	Log func(format string, args ...any)
	// Progress, when set, is told what Open is doing: each step's name
	// and, when it counts, how far it got (done of total; total 0 when
	// it does not count). It may be called from several goroutines.
	Progress func(step string, done, total int)
	// CheckpointBytes overrides how many uploaded bytes trigger an index
	// checkpoint during ingest (default CheckpointBytes).
	CheckpointBytes int64
	// PackSize, when set, is the data pack size Init writes into the
	// config (1 MiB to 1 GiB); tests use small packs to get many of them.
	PackSize int
	// Chunker, when set, is the chunker algorithm Init writes into the
	// config (ChunkerGear or ChunkerRabin; default ChunkerGear).
	Chunker string
	// PrivateIndex makes a long-running reader (a mount) work on its own
	// copy of the local index, taken after bringing the shared one up to
	// date, so that ingests on this host keep using the shared file.
	PrivateIndex bool
	// Now is the clock for locks and prune's grace period (default the
	// wall clock). Tests pass a fake one.
	Now func() time.Time
	// Resident says this process keeps the local index for long (the
	// daemon). It leaves a note beside the file, so that other processes
	// finding the index busy use a private one at once instead of
	// waiting for it, and publishes a copy of the index (refreshed as
	// each lock is released) for them to start from.
	Resident bool
	// CatalogueOnly says the caller only lists snapshots (Snapshots):
	// the local index's blob locations are neither brought up to date
	// at Open nor when a lock is taken, so that listing snapshots with a
	// cold cache does not download every index segment first. Reading
	// trees or blobs through such a Repository is a mistake; they are not
	// found.
	CatalogueOnly bool
}

func (o *Options) step(name string, done, total int) {
	if o.Progress != nil {
		o.Progress(name, done, total)
	}
}

// step tells Options.Progress, during Open, how far a step got.
func (r *Repository) step(name string, done, total int) {
	if r.progress != nil {
		r.progress(name, done, total)
	}
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Init creates a repository on be with one key for opt.Password. It
// refuses a location that holds a repository's contents without its
// config (see storedContent): a new config and master key there would
// leave every stored snapshot unreadable.
func Init(ctx context.Context, be backends.Backend, opt Options) error {
	if _, err := be.Stat(ctx, "config"); err == nil {
		return fmt.Errorf("%s: %w", be.Location(), ErrExists)
	} else if !errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("%s: %w", be.Location(), err)
	}
	folder, err := storedContent(ctx, be)
	if err != nil {
		return fmt.Errorf("%s: %w", be.Location(), err)
	}
	if folder != "" {
		return fmt.Errorf("%s holds a repository's %s but no config: the config was lost; "+
			"a new repository there would make what is stored unreadable, so none is created "+
			"(put back the config from a copy of the repository, or init an empty location): %w",
			be.Location(), folder, ErrExists)
	}
	k, err := crypto.NewMasterKey()
	if err != nil {
		return err
	}
	cfg := newConfig()
	switch opt.Chunker {
	case "":
	case ChunkerGear, ChunkerRabin:
		cfg.Chunker.Algorithm = opt.Chunker
	default:
		return fmt.Errorf("unknown chunker %q (known: %s, %s)", opt.Chunker, ChunkerGear, ChunkerRabin)
	}
	if opt.PackSize != 0 {
		if opt.PackSize < 1<<20 || opt.PackSize > 1<<30 {
			return fmt.Errorf("pack size %d is outside 1 MiB..1 GiB", opt.PackSize)
		}
		cfg.PackSize = opt.PackSize
	}
	b, err := cfg.marshalSealed(k)
	if err != nil {
		return err
	}
	keyName, err := addKey(ctx, be, k, opt)
	if err != nil {
		return err
	}
	if err := be.Create(ctx, "config", b); err != nil {
		// Without its config the key opens nothing: left behind, it would
		// sit beside the key of the next init (or of the init that won a
		// race) as a key whose password opens nothing.
		// But a Create can fail after storing the config (a timeout or an
		// interrupt after the upload, a failed verification or folder
		// sync): then the key is the only one that opens it, and is kept.
		if !configStored(context.WithoutCancel(ctx), be, b, err) {
			_ = be.Remove(context.WithoutCancel(ctx), keyName)
		}
		if errors.Is(err, backends.ErrExists) {
			return fmt.Errorf("%s: %w", be.Location(), ErrExists)
		}
		return fmt.Errorf("save config: %w", err)
	}
	return nil
}

// configStored reports whether the config b may be stored although
// Create failed with err: it is, or it could not be told (a Load that
// failed otherwise than not found). On ErrExists it is ours only if the
// stored bytes are b (each init seals its own config).
func configStored(ctx context.Context, be backends.Backend, b []byte, err error) bool {
	if errors.Is(err, backends.ErrExists) {
		got, lerr := be.Load(ctx, "config", 0, -1)
		return lerr == nil && bytes.Equal(got, b)
	}
	got, lerr := be.Load(ctx, "config", 0, -1)
	if errors.Is(lerr, backends.ErrNotFound) {
		return false
	}
	return lerr != nil || bytes.Equal(got, b)
}

func addKey(ctx context.Context, be backends.Backend, k *crypto.Key, opt Options) (string, error) {
	p := crypto.DefaultKDF
	if opt.KDF != nil {
		p = *opt.KDF
	}
	host, _ := os.Hostname()
	uname := ""
	if u, err := user.Current(); err == nil {
		uname = u.Username
	}
	kf, err := crypto.NewKeyFile(k, opt.Password, p, host, uname)
	if err != nil {
		return "", err
	}
	b, err := kf.Marshal()
	if err != nil {
		return "", err
	}
	name := "keys/" + randomID().String()
	if err := be.Save(ctx, name, b); err != nil {
		return "", OnObject("save", name, err)
	}
	return name, nil
}

// errFound stops a listing at its first object.
var errFound = errors.New("found")

// storedContent names the first folder of be that holds what only a
// repository's writers store (snapshots, index segments, packs), or ""
// when none does. Key files alone do not count: an init that failed
// before writing the config leaves one, and may be run again. Only
// objects named as a repository names them count: another tool's files
// in a bucket shared with the repository ("data/report.csv",
// "snapshots/2026.json") are not a repository's content.
func storedContent(ctx context.Context, be backends.Backend) (string, error) {
	for _, folder := range []string{"snapshots/", "index/", id.DataBlob.String() + "/", id.TreeBlob.String() + "/"} {
		err := be.List(ctx, folder, func(fi backends.Info) error {
			if repositoryObject(folder, fi.Name) {
				return errFound
			}
			return nil
		})
		switch {
		case errors.Is(err, errFound):
			return strings.TrimSuffix(folder, "/") + "/", nil
		case err != nil && !errors.Is(err, backends.ErrNotFound):
			return "", fmt.Errorf("list %s: %w", folder, err)
		}
	}
	return "", nil
}

// repositoryObject reports whether name, listed under folder, is named as
// a repository names its snapshots, index segments or packs.
func repositoryObject(folder, name string) bool {
	switch folder {
	case "snapshots/", "index/":
		base := strings.TrimPrefix(name, folder)
		i, err := id.Parse(base)
		return err == nil && i.String() == base
	}
	_, _, ok := ParsePackName(name)
	return ok
}

// ReadConfig reads and checks the plaintext config, without a password.
func ReadConfig(ctx context.Context, be backends.Backend) (*Config, error) {
	b, err := loadBounded(ctx, be, "config", -1, maxConfig, "config")
	if errors.Is(err, backends.ErrNotFound) {
		// Snapshots or packs without a config are a repository that
		// lost it, not an empty location: exit 10 would invite a
		// script to init over it.
		if folder, lerr := storedContent(ctx, be); lerr == nil && folder != "" {
			return nil, fmt.Errorf("%s: the config is missing, yet %s is there: the repository is damaged, not absent; "+
				"put back the config from a copy of the repository (cairn init refuses to replace it): %w",
				be.Location(), folder, ErrDamaged)
		}
		return nil, fmt.Errorf("%s: %w", be.Location(), ErrNoRepository)
	}
	if err != nil {
		return nil, fmt.Errorf("read config of %s: %w", be.Location(), err)
	}
	return parseConfig(b)
}

// Open opens the repository on be and brings the local index up to date.
func Open(ctx context.Context, be backends.Backend, opt Options) (*Repository, error) {
	cfg, err := ReadConfig(ctx, be)
	if err != nil {
		return nil, err
	}
	opt.step("opening the key", 0, 0)
	k, keyName, err := unlock(ctx, be, opt.Password, cfg.verify)
	if err != nil {
		return nil, err
	}
	r := &Repository{be: be, cfg: cfg, key: k, keyName: keyName, codec: newCodec(k, cfg), ckptBytes: opt.CheckpointBytes, progress: opt.Progress}
	defer func() { r.progress = nil }() // Open's steps only
	// Packs are named by their contents and never rewritten: a local
	// folder may keep them open between reads.
	if ko, ok := backends.As[interface{ KeepOpen(...string) }](be); ok {
		ko.KeepOpen(id.DataBlob.String()+"/", id.TreeBlob.String()+"/")
	}
	if err := r.deriveChunker(); err != nil {
		return nil, err
	}
	if r.ckptBytes <= 0 {
		r.ckptBytes = CheckpointBytes
	}
	r.now = opt.Now
	r.longLived = opt.Resident
	r.catalogue = opt.CatalogueOnly
	if r.now == nil {
		// Wall-clock readings only: other hosts judge our locks by
		// wall time, and a monotonic reading stops while a machine
		// sleeps.
		r.now = func() time.Time { return time.Now().Round(0) }
	}
	opt.step("opening the local index", 0, 0)
	if err := r.openCache(ctx, opt); err != nil {
		if !cacheUnwritable(err) {
			return nil, err
		}
		if perr := r.privateCache(opt, err); perr != nil {
			return nil, privateCacheFailed(err, perr)
		}
	}
	if err := r.SyncIndex(ctx); err != nil {
		if !cacheUnwritable(err) || r.tmpCache != "" {
			r.Close()
			return nil, err
		}
		// The local index is only a cache: one that cannot be written
		// (a full disk, a quota, a read-only home) must not stop the
		// commands, restores first of all.
		r.idx.Close()
		r.idx = nil
		if perr := r.privateCache(opt, err); perr != nil {
			r.Close()
			return nil, privateCacheFailed(err, perr)
		}
		if err := r.SyncIndex(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	if r.catalogue {
		return r, nil
	}
	if err := r.PublishIndex(); err != nil {
		opt.logf("%v", err)
	}
	if opt.PrivateIndex && r.tmpCache == "" {
		opt.step("copying the local index for this run", 0, 0)
		if err := r.privateIndex(); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// maxConfig bounds the config's size: one is about 300 bytes of JSON, and
// it is read before any password is asked.
const maxConfig = 64 << 10

// Close releases the local index and the backend.
func (r *Repository) Close() error {
	var err error
	if r.resident != "" {
		os.Remove(r.resident)
		os.Remove(filepath.Join(r.cacheDir, publishedIndex))
	}
	if r.idx != nil {
		err = r.idx.Close()
	}
	if r.tmpCache != "" {
		os.RemoveAll(r.tmpCache)
	}
	return errors.Join(err, r.be.Close())
}

// Logf reports something the user should know that does not stop the
// command (Options.Log); it does nothing without one.
func (r *Repository) Logf(format string, args ...any) {
	if r.logf != nil {
		r.logf(format, args...)
	}
}

// Config returns the repository's config.
func (r *Repository) Config() *Config { return r.cfg }

// Backend returns the backend the repository lives on.
func (r *Repository) Backend() backends.Backend { return r.be }

// Codec returns the blob codec bound to the repository key.
func (r *Repository) Codec() *pack.Codec { return r.codec }

// Index returns the local index.
func (r *Repository) Index() *index.DB { return r.idx }

// Now reads the repository's clock (Options.Now).
func (r *Repository) Now() time.Time { return r.now() }

// Polynomial is the repository's secret chunking polynomial, with
// ChunkerRabin.
func (r *Repository) Polynomial() chunker.Pol { return r.pol }

// GearTable is the repository's secret gear hash table, with ChunkerGear.
func (r *Repository) GearTable() *gear.Table { return r.gear }

// deriveChunker derives the secret of the config's chunker: the Rabin
// polynomial or the gear table (neither for one this cairn does not know).
func (r *Repository) deriveChunker() error {
	r.pol, r.gear = 0, nil
	switch r.cfg.Chunker.ChunkerAlgorithm() {
	case ChunkerRabin:
		pol, err := r.key.ChunkerPolynomial()
		if err != nil {
			return fmt.Errorf("derive chunker polynomial: %w", err)
		}
		r.pol = pol
	case ChunkerGear:
		t := gear.Table(r.key.GearTable())
		r.gear = &t
	}
	return nil
}

// SyncIndex brings the local index in step with the stored index
// segments. A segment that any stored segment lists in its Supersedes is
// ignored: its replacement holds what is still needed, and a writer may
// have crashed between storing the replacement and removing the old ones.
// New segments are loaded, and so again are those a run stopped loading;
// when a loaded (or partly loaded) segment has disappeared or become
// superseded, the blob locations are rebuilt from scratch.
//
// A reader without a lock (a mount, --no-lock) may list a segment that a
// prune or repair index removes before it is read: the segment's
// replacement was stored before it went, so the listing is read again, a
// few times at most, before such a disappearance counts as an error.
func (r *Repository) SyncIndex(ctx context.Context) error {
	if r.catalogue {
		return nil
	}
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	var err error
	for range 3 {
		if err = r.syncIndex(ctx); !errors.Is(err, ErrNotFound) {
			break
		}
	}
	return err
}

func (r *Repository) syncIndex(ctx context.Context) error {
	stored := map[id.ID]bool{}
	err := r.be.List(ctx, "index/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		if err != nil {
			return nil // not ours; check reports it
		}
		stored[sid] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("list index segments: %w", err)
	}
	known, err := r.idx.SegmentInfos()
	if err != nil {
		return &localIndexError{err}
	}
	// Every stored segment's Supersedes counts, even one itself
	// superseded: what it replaced stays replaced.
	superseded := map[id.ID]bool{}
	loaded := map[id.ID]*Segment{}
	var unknown []id.ID
	for sid := range stored {
		if _, ok := known[sid]; !ok {
			unknown = append(unknown, sid)
		}
	}
	var read atomic.Int64
	r.step("reading index segments", 0, len(unknown))
	got, errs, err := fetchAll(ctx, r, unknown, func(ctx context.Context, sid id.ID) (*Segment, error) {
		s, err := r.LoadSegment(ctx, sid)
		r.step("reading index segments", int(read.Add(1)), len(unknown))
		return s, err
	})
	if err != nil {
		return err
	}
	fetched := map[id.ID]int{}
	for i, sid := range unknown {
		fetched[sid] = i
	}
	for sid := range stored {
		info, ok := known[sid]
		if !ok {
			s, err := got[fetched[sid]], errs[fetched[sid]]
			if err != nil {
				if !errors.Is(err, ErrDamaged) {
					return err
				}
				// A damaged segment must not stop every command, check
				// and repair index among them: leave it out of the
				// local index (it is tried again next time) and carry
				// on with the others.
				r.skipDamagedSegment(sid, err)
				delete(stored, sid)
				continue
			}
			loaded[sid] = s
			info.Supersedes = s.Supersedes
		}
		for _, x := range info.Supersedes {
			superseded[x] = true
		}
	}
	live := func(sid id.ID) bool { return stored[sid] && !superseded[sid] }
	rebuild := false
	for sid, info := range known {
		switch {
		case info.Partial && !live(sid):
			// Its blobs were being added when a run stopped: some
			// are located, in packs no stored segment may name now.
			// (One still live is read again below.)
			rebuild = true
		case info.Loaded && !live(sid):
			rebuild = true
		case !info.Loaded && !stored[sid]:
			if err := r.idx.ForgetSegment(sid); err != nil {
				return &localIndexError{err}
			}
		}
	}
	if rebuild {
		if err := r.idx.ResetBlobs(); err != nil {
			return err
		}
		known = map[id.ID]index.SegmentInfo{}
	}
	var batch []index.SegmentAdd
	blobs := 0
	flush := func() error {
		if len(batch) > 0 {
			r.step("writing the local index", 0, 0)
		}
		err := r.idx.AddSegmentInfos(batch)
		batch, blobs = batch[:0], 0
		if err != nil {
			return &localIndexError{err}
		}
		return nil
	}
	var todo []id.ID
	for sid := range stored {
		if info, ok := known[sid]; ok && info.Loaded == live(sid) {
			continue
		}
		todo = append(todo, sid)
	}
	recorded, toRecord := 0, len(todo)
	for len(todo) > 0 {
		r.step("adding index segments to the local index", recorded, toRecord)
		recorded += min(len(todo), r.fetchConcurrency(), fetchReaders)
		// Segments read again after a rebuild are fetched a few at a
		// time, so that besides the batch not yet recorded
		// (segmentBatchBlobs) only those few are held in memory: a
		// chunk of segmentBatch of them, or of a high --connections,
		// up to 500,000 blobs each after a prune, would hold the whole
		// index.
		chunk := todo[:min(len(todo), r.fetchConcurrency(), fetchReaders)]
		todo = todo[len(chunk):]
		var need []id.ID
		for _, sid := range chunk {
			if loaded[sid] == nil {
				need = append(need, sid)
			}
		}
		got, errs, err := r.LoadSegments(ctx, need)
		if err != nil {
			return err
		}
		for i, sid := range need {
			if errs[i] != nil {
				if !errors.Is(errs[i], ErrDamaged) {
					return errs[i]
				}
				r.skipDamagedSegment(sid, errs[i])
				continue
			}
			loaded[sid] = got[i]
		}
		for _, sid := range chunk {
			s := loaded[sid]
			delete(loaded, sid)
			if s == nil {
				continue // damaged, and said so above
			}
			batch = append(batch, index.SegmentAdd{ID: sid, Info: index.SegmentInfo{Loaded: live(sid), Supersedes: s.Supersedes}, Packs: s.Packs})
			for _, p := range s.Packs {
				blobs += len(p.Blobs)
			}
			if len(batch) >= segmentBatch || blobs >= segmentBatchBlobs {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// segmentBatch is how many segments SyncIndex records in one local index
// transaction: one commit each made a cold open of a repository with
// thousands of snapshots (and so of segments) spend minutes in fdatasync.
const segmentBatch = 256

// segmentBatchBlobs bounds a batch by the blobs its segments name too: a
// transaction holds every page it dirties until it commits, and a cold
// open of a large repository must not hold its whole index in memory.
const segmentBatchBlobs = 100_000

// skipDamagedSegment says that SyncIndex left out a segment it could not
// read: the blobs only it names are unknown until it is repaired. The
// caller holds syncMu.
func (r *Repository) skipDamagedSegment(sid id.ID, err error) {
	if r.damagedSegs[sid] {
		return
	}
	if r.damagedSegs == nil {
		r.damagedSegs = map[id.ID]bool{}
	}
	r.damagedSegs[sid] = true
	if r.logf != nil {
		r.logf("%v; left out of the local index: run `cairn check`, then `cairn repair index`", err)
	}
}

// LookupBlob finds where a blob is stored.
func (r *Repository) LookupBlob(bid id.ID) (index.Blob, bool, error) {
	return r.idx.Lookup(bid)
}

// PackName is the object name of a pack of type t.
func PackName(t id.BlobType, pid id.ID) string {
	s := pid.String()
	return t.String() + "/" + s[:2] + "/" + s
}

// newCodec is the blob codec for a repository with config cfg.
func newCodec(k *crypto.Key, cfg *Config) *pack.Codec {
	c := pack.NewCodec(k)
	c.TypedIDs = cfg.HasFeature(FeatureTypedBlobIDs)
	return c
}
