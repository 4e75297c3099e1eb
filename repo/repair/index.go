package repair

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
	"github.com/cairn-backup/cairn/repo/internal/b3"
	"github.com/cairn-backup/cairn/repo/internal/par"
	"github.com/cairn-backup/cairn/repo/pack"
)

// maxSegmentBlobs bounds one new index segment (about 2 MiB of plaintext).
const maxSegmentBlobs = 50_000

// treePackSize is the writers' target for tree packs.
const treePackSize = 4 << 20

// IndexOptions say how to rebuild the index.
type IndexOptions struct {
	// ReadData reads every pack whole: a pack whose bytes do not hash to
	// its name, or with a blob that does not verify, counts as damaged.
	// Without it only the headers of indexed packs are read; a pack no
	// segment names is read whole all the same, since it may be one an
	// earlier repair left out as damaged (such packs are rare).
	ReadData bool
	// Workers bounds the pack reads in flight (default 4).
	Workers int
	// Progress, when set, hears about packs examined: done of total.
	Progress func(done, total int)
}

// PackReport is a pack the new index leaves out.
type PackReport struct {
	Name     string
	Err      error // why it is left out
	Blobs    int   // blobs known to be in it (from its header, or the old index)
	Salvaged int   // of those, copied into new packs
	// Unindexed: no old segment named it (an interrupted ingest's pack, or
	// one an earlier repair left out as damaged).
	Unindexed bool
}

// IndexResult says what Index did.
type IndexResult struct {
	Packs, Blobs int // in the new index
	// Committed: the new index segments were all written, so the new index
	// is in force (else the old one still is, and the rest says what the
	// new one would have changed).
	Committed bool
	Adopted   []string     // packs no old segment named, now indexed
	Missing   []PackReport // packs old segments named that are not stored
	// Restored are packs old segments named that storage had lost, stored
	// again from this host's metadata cache, whose copies verified.
	Restored []string
	Damaged  []PackReport // stored packs left out, for prune to remove
	Salvage  []string     // new packs holding blobs copied from damaged ones
	// Lost are the blobs the old index or a damaged pack held that the
	// new index lacks.
	Lost    []id.ID
	Written []id.ID // new segments
	Removed []id.ID // old segments removed
	// Unreadable are old segments that could not be read (removed too).
	Unreadable []string
}

// examined is what reading one stored pack found.
type examined struct {
	sp      repo.StoredPack
	entries []pack.Entry // the header's, when the pack is intact
	err     error        // the damage, when it is not
	known   int          // blobs known to be in a damaged pack
	good    []salvaged   // a damaged pack's blobs that verify
	// unindexed: no old segment names the pack
	unindexed bool
}

type salvaged struct {
	e      pack.Entry
	stored []byte
}

// Index rebuilds the index segments from the stored packs. Its error is
// for a repair that could not finish; what it changed is in the result
// when that is not nil.
func Index(ctx context.Context, r *repo.Repository, opt IndexOptions) (*IndexResult, error) {
	// Judge the stored objects, never a local copy of them (the metadata
	// cache): a damaged copy must not get an intact segment removed or an
	// intact pack left out, nor an intact copy hide a damaged pack.
	withCopies := ctx
	ctx = backends.Uncached(ctx)
	if opt.Workers <= 0 {
		opt.Workers = 4
	}
	// Segments before packs, the reverse of the order writers store them:
	// a pack a late writer stores meanwhile is then listed, not dropped.
	res := &IndexResult{}
	oldSegs, oldPacks, err := loadSegments(ctx, r, res)
	if err != nil {
		return nil, err
	}
	stored, err := r.ListPacks(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := restoreCopies(withCopies, ctx, r, oldPacks, stored, res); err != nil {
		return nil, err
	}

	var list []repo.StoredPack
	for _, sp := range stored {
		list = append(list, sp)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID.String() < list[j].ID.String() })
	found := make([]*examined, len(list))
	var mu sync.Mutex
	var firstErr error
	done := 0
	par.Each(ctx, opt.Workers, len(list), func(i int) {
		old, named := oldPacks[list[i].ID]
		ex, err := examine(ctx, r, list[i], old, opt.ReadData || !named)
		if ex != nil {
			ex.unindexed = !named
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		found[i] = ex
		done++
		if opt.Progress != nil {
			opt.Progress(done, len(list))
		}
	})
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return nil, fmt.Errorf("nothing was changed: %w", firstErr)
	}

	var packs []index.Pack
	have := map[id.ID]bool{}
	for _, ex := range found {
		if ex.err != nil {
			continue
		}
		p := index.Pack{ID: ex.sp.ID, Type: ex.sp.Type}
		for _, e := range ex.entries {
			p.Blobs = append(p.Blobs, index.Blob{ID: e.ID, Type: e.Type, Pack: p.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
			have[e.ID] = true
		}
		packs = append(packs, p)
		if _, ok := oldPacks[p.ID]; !ok {
			res.Adopted = append(res.Adopted, ex.sp.Name())
		}
	}
	salvage, err := writeSalvage(ctx, r, found, have, res)
	if err != nil {
		return nil, fmt.Errorf("copy blobs out of damaged packs (the index is unchanged): %w", err)
	}
	packs = append(packs, salvage...)

	lost := map[id.ID]bool{}
	for pid, p := range oldPacks {
		if _, ok := stored[pid]; !ok {
			res.Missing = append(res.Missing, PackReport{Name: repo.PackName(p.Type, pid), Err: repo.ErrNotFound, Blobs: len(p.Blobs)})
		}
		for _, b := range p.Blobs {
			lost[b.ID] = true
		}
	}
	for _, ex := range found {
		if ex.err != nil {
			for _, g := range ex.entries {
				lost[g.ID] = true
			}
		}
	}
	for bid := range lost {
		if !have[bid] {
			res.Lost = append(res.Lost, bid)
		}
	}
	sortIDs(res.Lost)
	sort.Slice(res.Missing, func(i, j int) bool { return res.Missing[i].Name < res.Missing[j].Name })

	if err := writeSegments(ctx, r, packs, oldSegs, res); err != nil {
		return res, err
	}
	res.Committed = true
	var rmErr error
	for _, sid := range oldSegs {
		err := r.Backend().Remove(ctx, "index/"+sid.String())
		if err != nil && !errors.Is(err, backends.ErrNotFound) {
			// Harmless: the new segments supersede it.
			rmErr = errors.Join(rmErr, fmt.Errorf("remove superseded index/%s: %w", sid, err))
			continue
		}
		res.Removed = append(res.Removed, sid)
	}
	if err := r.SyncIndex(ctx); err != nil {
		return res, err
	}
	return res, rmErr
}

// loadSegments lists the stored segments and merges the readable ones
// into one view of the old index.
// restoreCopies stores again the packs old segments name that storage
// lost, when this host's metadata cache keeps a copy (tree packs) whose
// bytes hash to the pack's name: restores read those copies, and without
// them the new index would leave their trees out for good. Each one is
// added to stored.
func restoreCopies(withCopies, ctx context.Context, r *repo.Repository, oldPacks map[id.ID]index.Pack, stored map[id.ID]repo.StoredPack, res *IndexResult) error {
	for pid, p := range oldPacks {
		name := repo.PackName(p.Type, pid)
		if _, ok := stored[pid]; ok || !backends.MayServeCopy(r.Backend(), name) {
			continue
		}
		b, err := r.Backend().Load(withCopies, name, 0, -1)
		if err != nil || id.ID(b3.Sum256(b)) != pid {
			continue // no copy, or a damaged one
		}
		if err := r.Backend().Save(ctx, name, b); err != nil {
			return fmt.Errorf("store %s again from this host's copy: %w", name, err)
		}
		stored[pid] = repo.StoredPack{ID: pid, Type: p.Type, Size: int64(len(b))}
		res.Restored = append(res.Restored, name)
	}
	sort.Strings(res.Restored)
	return nil
}

func loadSegments(ctx context.Context, r *repo.Repository, res *IndexResult) ([]id.ID, map[id.ID]index.Pack, error) {
	var sids []id.ID
	err := r.Backend().List(ctx, "index/", func(fi backends.Info) error {
		sid, err := id.Parse(strings.TrimPrefix(fi.Name, "index/"))
		if err == nil && "index/"+sid.String() == fi.Name {
			sids = append(sids, sid)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list index segments: %w", err)
	}
	sortIDs(sids)
	packs := map[id.ID]index.Pack{}
	segs, errs, err := r.LoadSegments(ctx, sids)
	if err != nil {
		return nil, nil, fmt.Errorf("nothing was changed: %w", err)
	}
	for i, sid := range sids {
		s, err := segs[i], errs[i]
		if err != nil {
			// A newer format is not damage: a newer cairn must repair.
			if !errors.Is(err, repo.ErrDamaged) {
				return nil, nil, fmt.Errorf("nothing was changed: %w", err)
			}
			res.Unreadable = append(res.Unreadable, "index/"+sid.String())
			continue
		}
		for _, p := range s.Packs {
			if _, ok := packs[p.ID]; !ok {
				packs[p.ID] = p
			}
		}
	}
	return sids, packs, nil
}

// examine reads one stored pack. A damaged pack gets err set and, in
// good, the blobs (from its header, else from the old index) that still
// verify. The returned error is for a read that failed otherwise.
func examine(ctx context.Context, r *repo.Repository, sp repo.StoredPack, old index.Pack, readData bool) (*examined, error) {
	ex := &examined{sp: sp}
	entries, herr := r.ReadPackHeader(ctx, sp)
	if herr != nil && !isDamage(herr) {
		return nil, herr
	}
	var whole []byte
	switch max := r.MaxPackSize(); {
	case readData && sp.Size > max:
		// Planted or grown: not loaded whole, its blobs are read one
		// by one.
		ex.err = fmt.Errorf("%d bytes, larger than any pack of this repository can be (%d): not read whole", sp.Size, max)
	case readData:
		// Read to its listed size only: a pack grown since is damage
		// all the same (it no longer hashes to its name).
		var err error
		whole, err = r.Backend().Load(ctx, sp.Name(), 0, sp.Size)
		switch {
		case errors.Is(err, backends.ErrRange):
			whole, ex.err = nil, errors.New("shorter than listed")
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", sp.Name(), err)
		case id.ID(b3.Sum256(whole)) != sp.ID:
			ex.err = fmt.Errorf("content does not match its name")
		}
	}
	if herr != nil {
		ex.err = herr
		// Without a header the old index says where the blobs were.
		entries = entries[:0]
		for _, b := range old.Blobs {
			entries = append(entries, pack.Entry{Type: b.Type, ID: b.ID, Offset: b.Offset, Length: b.Length, RawLength: b.RawLength})
		}
	}
	if ex.err == nil && !readData {
		ex.entries = entries
		return ex, nil
	}
	ex.known = len(entries)
	var bad []string
	for _, e := range entries {
		var stored []byte
		if whole != nil {
			if int64(e.Offset)+int64(e.Length) <= int64(len(whole)) {
				stored = whole[e.Offset : e.Offset+e.Length]
			}
		} else {
			b, err := r.Backend().Load(ctx, sp.Name(), int64(e.Offset), int64(e.Length))
			switch {
			case err == nil:
				stored = b
			case !errors.Is(err, backends.ErrRange):
				return nil, fmt.Errorf("read %s: %w", sp.Name(), err)
			}
		}
		if stored == nil {
			bad = append(bad, e.ID.Short()+": beyond the end")
			continue
		}
		if _, err := r.Codec().Open(nil, e.Type, e.ID, stored, int(e.RawLength)); err != nil || e.Type != sp.Type {
			bad = append(bad, fmt.Sprintf("%s: %v", e.ID.Short(), err))
			continue
		}
		ex.good = append(ex.good, salvaged{e: e, stored: stored})
	}
	if ex.err == nil && len(bad) == 0 {
		ex.entries, ex.good = entries, nil
		return ex, nil
	}
	if len(bad) > 0 {
		msg := fmt.Sprintf("%d of %s damaged (%s)", len(bad), count(len(entries), "blob"), strings.Join(bad, "; "))
		if ex.err != nil {
			ex.err = fmt.Errorf("%w; %s", ex.err, msg)
		} else {
			ex.err = errors.New(msg)
		}
	}
	ex.entries = entries // kept to count what is lost
	return ex, nil
}

// count is "1 blob", "2 blobs".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func isDamage(err error) bool {
	return errors.Is(err, repo.ErrDamaged)
}

func sortIDs(ids []id.ID) {
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
}
