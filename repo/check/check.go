package check

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// Options say how much to check.
type Options struct {
	// ReadData reads every indexed pack whole.
	ReadData bool
	// Subset, when not nil, reads only these packs whole.
	Subset *Subset
	// Workers bounds the pack reads in flight (default 4).
	Workers int
	// Progress, when set, hears about packs read whole: done of total.
	Progress func(done, total int)
}

// checker holds what a check has learnt so far.
type checker struct {
	r   *repo.Repository
	opt Options
	res *Result
	// cached is Run's context before it was made backends.Uncached: tree
	// blobs are read under it first.
	cached context.Context

	mu       sync.Mutex
	problems map[string]*Problem // by object name, or by blob ID for a blob stored nowhere

	packs       map[id.ID]*packState   // indexed packs
	blobs       map[id.ID][]*packState // indexed blob -> packs holding it
	stored      map[id.ID]repo.StoredPack
	unref       map[id.ID]*unrefPack // stored packs no segment names
	unrefBlobs  map[id.ID][]*unrefPack
	missing     map[id.ID]id.BlobType // needed blobs stored nowhere
	snapshotIDs []id.ID               // listed before anything else
	snapSizes   []int64               // their listed sizes
	snapshots   []*repo.Snapshot
	// segmentsDamaged counts index segments that cannot be read: the
	// packs they name look unindexed.
	segmentsDamaged int
	// treesUnread counts the snapshots' trees that could not be read:
	// what is below them is unknown, so a pack no segment names may hold
	// it.
	treesUnread int
}

// packState is one indexed pack and what is wrong with it.
type packState struct {
	pack    index.Pack
	segment id.ID    // the (first) segment naming it
	problem *Problem // nil while nothing is wrong
	allBad  bool     // none of its blobs can be read
	bad     map[id.ID]bool
	blob    map[id.ID]index.Blob
}

func (p *packState) name() string { return repo.PackName(p.pack.Type, p.pack.ID) }

// readable reports whether bid can be read from this pack, as far as
// is known.
func (p *packState) readable(bid id.ID) bool { return !p.allBad && !p.bad[bid] }

// unrefPack is a stored pack that no index segment names.
type unrefPack struct {
	sp      repo.StoredPack
	entries []pack.Entry
	err     error // reading its header

	// Set once snapshots need a blob of it, which reads it whole: an
	// interrupted ingest's pack is intact, one `cairn repair index` left
	// out as damaged is not, and only reading it tells them apart.
	read    *packState // its blobs, those that do not verify marked bad
	damage  string     // what is wrong with it; "" when intact
	readErr error      // reading it failed for another reason
	good    int        // needed blobs in it that verify
	bad     int        // needed blobs in it that do not
}

// Run checks the repository. Its error is for a check that could not run
// (a listing failed, the context ended); what is wrong with the repository
// is in the Result.
func Run(ctx context.Context, r *repo.Repository, opt Options) (*Result, error) {
	// What the storage holds, not a local copy of it (the metadata cache
	// of S3 repositories): a copy hides damage to the stored object, and
	// damage to a copy is none in the repository. Only tree blobs, one
	// small read each, may come from a copy first (see loadTree).
	cached := ctx
	ctx = backends.Uncached(ctx)
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	c := &checker{r: r, opt: opt, res: &Result{}, cached: cached, problems: map[string]*Problem{},
		packs: map[id.ID]*packState{}, blobs: map[id.ID][]*packState{},
		unref: map[id.ID]*unrefPack{}, unrefBlobs: map[id.ID][]*unrefPack{}, missing: map[id.ID]id.BlobType{}}
	// The snapshots are listed first, in the order writers store things
	// backwards (packs, index segments, then the snapshot): an ingest
	// running beside check (both hold shared locks) may commit a snapshot
	// at any moment, and one listed before the index was has every
	// segment and pack it needs in the listings that follow. Listed after,
	// it would be reported as damaged, its segment unknown to check.
	steps := []func(context.Context) error{c.listSnapshots, c.loadIndex, c.checkPacks, c.readData, c.loadSnapshots, c.checkTrees}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if c.res.Snapshots == 0 && c.res.Packs > 0 {
		c.notice(NoSnapshots, "snapshots/", fmt.Sprintf("no snapshot, yet %s hold data: a first ingest interrupted or still running leaves them so; "+
			"if the snapshots were removed by accident, `cairn recover` makes a snapshot of every folder the packs hold (prune refuses to remove them until there is one)", count(c.res.Packs, "pack")))
	}
	c.finish()
	return c.res, nil
}

// problem returns the problem recorded under key, making it if needed,
// and adds msg to its messages unless it is empty.
func (c *checker) problem(key string, k Kind, object, msg string) *Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems[key]
	if p == nil {
		p = &Problem{Kind: k, Object: object}
		c.problems[key] = p
	}
	if msg != "" {
		p.addMessage(msg)
	}
	return p
}

// packProblem records a problem with an indexed pack; the first kind
// found stays, messages accumulate.
func (c *checker) packProblem(ps *packState, k Kind, msg string) {
	p := c.problem(ps.name(), k, ps.name(), msg)
	c.mu.Lock()
	ps.problem = p
	c.mu.Unlock()
}

func (c *checker) notice(k Kind, object, msg string) {
	c.problem(string(k)+" "+object, k, object, msg)
}

// loadIndex reads every stored index segment and builds the index that
// the live (not superseded) ones make.
func (c *checker) loadIndex(ctx context.Context) error {
	var sids []id.ID
	err := c.r.Backend().List(ctx, "index/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		if err != nil || "index/"+sid.String() != fi.Name {
			c.notice(StrayObject, fi.Name, "not an index segment name; cairn ignores it")
			return nil
		}
		sids = append(sids, sid)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list index segments: %w", err)
	}
	sortIDs(sids)
	c.res.Segments = len(sids)
	segs := map[id.ID]*repo.Segment{}
	supersededBy := map[id.ID]id.ID{}
	loaded, errs, err := c.r.LoadSegments(ctx, sids)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Without the whole index nothing can be judged.
		return fmt.Errorf("%w; the storage failed, nothing is known to be damaged: make sure it is reachable and run check again", err)
	}
	for i, sid := range sids {
		s, err := loaded[i], errs[i]
		if err != nil { // damaged, gone or of a newer format
			c.problem("index/"+sid.String(), SegmentDamaged, "index/"+sid.String(), trimErr(err, "index/"+sid.String()))
			c.segmentsDamaged++
			continue
		}
		segs[sid] = s
		for _, x := range s.Supersedes {
			supersededBy[x] = sid
		}
	}
	for _, sid := range sids {
		s := segs[sid]
		if s == nil {
			continue
		}
		if by, ok := supersededBy[sid]; ok {
			c.notice(SegmentSuperseded, "index/"+sid.String(), fmt.Sprintf("superseded by index/%s and ignored; left by an interrupted repair or prune, removed by the next one", by))
			continue
		}
		for _, p := range s.Packs {
			if old, ok := c.packs[p.ID]; ok {
				if !samePack(old.pack, p) {
					c.packProblem(old, PackMismatch, fmt.Sprintf("index segments index/%s and index/%s disagree about it", old.segment, sid))
					old.pack.Blobs = mergeBlobs(old.pack.Blobs, p.Blobs)
				}
				continue
			}
			ps := &packState{pack: p, segment: sid, blob: map[id.ID]index.Blob{}}
			c.packs[p.ID] = ps
			for _, b := range p.Blobs {
				if _, dup := ps.blob[b.ID]; dup {
					continue
				}
				ps.blob[b.ID] = b
				c.blobs[b.ID] = append(c.blobs[b.ID], ps)
			}
		}
	}
	c.res.Packs = len(c.packs)
	c.res.Blobs = len(c.blobs)
	c.duplicates(ctx)
	return nil
}

func samePack(a, b index.Pack) bool {
	if a.Type != b.Type || len(a.Blobs) != len(b.Blobs) {
		return false
	}
	for i := range a.Blobs {
		if a.Blobs[i] != b.Blobs[i] {
			return false
		}
	}
	return true
}

func mergeBlobs(a, b []index.Blob) []index.Blob {
	seen := map[index.Blob]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			a = append(a, x)
		}
	}
	return a
}

// duplicates notes blobs held by several indexed packs, once per set of
// packs. Copies left in packs that a prune has marked for deletion (it
// repacked their used blobs, and deletes them once the grace period is
// over) are expected after every prune: they make one notice in all, not
// one per set, so that a check after each weekly prune does not list them
// all over again.
func (c *checker) duplicates(ctx context.Context) {
	marked := map[id.ID]bool{}
	if marks, err := c.r.Marks(ctx); err == nil {
		for _, m := range marks {
			for _, p := range m.Packs {
				marked[p.ID] = true
			}
		}
	}
	groups := map[string][]id.ID{}
	names := map[string][]string{}
	var inMarked int
	markedPacks := map[id.ID]bool{}
	for bid, ps := range c.blobs {
		if len(ps) < 2 {
			continue
		}
		var ns []string
		unmarked := 0
		for _, p := range ps {
			ns = append(ns, p.name())
			if !marked[p.pack.ID] {
				unmarked++
			}
		}
		if unmarked == 1 {
			inMarked++
			for _, p := range ps {
				if marked[p.pack.ID] {
					markedPacks[p.pack.ID] = true
				}
			}
			continue
		}
		sort.Strings(ns)
		k := strings.Join(ns, " ")
		groups[k] = append(groups[k], bid)
		names[k] = ns
	}
	for k, bids := range groups {
		ns := names[k]
		c.notice(BlobDuplicate, ns[0], fmt.Sprintf("%s also stored in %s; prune removes the extra copies", count(len(bids), "blob"), strings.Join(ns[1:], ", ")))
	}
	if inMarked > 0 {
		c.notice(BlobDuplicate, "condemned/", fmt.Sprintf("%s also stored in %s marked for deletion by a prune, which a later prune deletes once the grace period is over",
			count(inMarked, "blob"), count(len(markedPacks), "pack")))
	}
}

// readFailure reports whether err, from reading a stored object, is a
// failure of the storage (an outage, a refused or cut request, after the
// retries) rather than something found wrong with the object: missing,
// shorter than listed, damaged, of an unknown format. Such a failure is
// reported as Unreadable: advising a repair for it would be wrong.
func readFailure(err error) bool {
	for _, s := range []error{repo.ErrDamaged, repo.ErrNotFound, repo.ErrUnsupported, backends.ErrNotFound, backends.ErrRange, errShort} {
		if errors.Is(err, s) {
			return false
		}
	}
	return true
}

// unreadable records that the storage failed to deliver object (what
// says which part of it).
func (c *checker) unreadable(object, what string, err error) {
	// The layers of the error each name the object: the report does.
	msg := err.Error()
	for _, p := range []string{"read pack " + object + ": ", "load " + object + ": ", "pack " + object + ": "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	c.problem("unreadable "+object, Unreadable, object, fmt.Sprintf("%s could not be read from storage: %s", what, msg))
}

// trimErr is err's message without the object name it starts with and
// the sentinel it ends with: the report names the object already.
func trimErr(err error, object string) string {
	m := strings.TrimPrefix(err.Error(), object+": ")
	for _, s := range []error{repo.ErrDamaged, repo.ErrNotFound} {
		if errors.Is(err, s) {
			m = strings.TrimSuffix(m, ": "+s.Error())
		}
	}
	return m
}

// count is "1 blob", "2 blobs".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func sortIDs(ids []id.ID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}
