package repo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/id"
)

// A deletion mark ("condemned/<hex>", envelope kind "condemned") names
// packs that a prune found unneeded. Prune deletes an indexed pack only
// once a mark has named it for longer than the grace period, and only if
// it is still unneeded then; writers never rely on a marked pack (they
// store its blobs again). So a writer that learnt of a pack before it was
// marked, and whose lock failed meanwhile, has a whole grace period to
// commit a snapshot using it, and a later prune sees that snapshot before
// it deletes anything.
//
// The plaintext is "CRNC", a format byte (1), a uvarint count, then per
// pack its blob type (1 byte) and ID (32). A mark's time is the object's
// modification time as the storage reports it. Marks are never rewritten:
// prune removes one once none of the packs it names is left in storage.
const (
	markMagic  = "CRNC"
	markFormat = 1
)

// MarkedPack is a pack named by a deletion mark.
type MarkedPack struct {
	Type id.BlobType
	ID   id.ID
}

// Name is the pack's object name.
func (p MarkedPack) Name() string { return PackName(p.Type, p.ID) }

// Mark is one stored deletion mark.
type Mark struct {
	ID    id.ID
	Time  time.Time // the object's modification time; zero when unknown
	Packs []MarkedPack
	// Err is set, and Packs empty, when the mark is damaged (ErrDamaged).
	Err error

	size int64 // as listed
}

// EncodeMark writes a deletion mark's plaintext.
func EncodeMark(packs []MarkedPack) []byte {
	b := make([]byte, 0, 16+33*len(packs))
	b = append(b, markMagic...)
	b = append(b, markFormat)
	b = binary.AppendUvarint(b, uint64(len(packs)))
	for _, p := range packs {
		b = append(b, byte(p.Type))
		b = append(b, p.ID[:]...)
	}
	return b
}

// DecodeMark parses a deletion mark's plaintext.
func DecodeMark(b []byte) ([]MarkedPack, error) {
	if len(b) < 5 || string(b[:4]) != markMagic {
		return nil, fmt.Errorf("deletion mark: bad magic: %w", ErrDamaged)
	}
	if b[4] != markFormat {
		return nil, fmt.Errorf("deletion mark format %d is not supported: %w", b[4], ErrUnsupported)
	}
	r := &segReader{b: b[5:]}
	n := r.uvarint(uint64(len(r.b)) / 33)
	out := make([]MarkedPack, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		if len(r.b) < 1 {
			r.err = fmt.Errorf("truncated pack")
			break
		}
		t := id.BlobType(r.b[0])
		r.b = r.b[1:]
		if !t.Valid() {
			r.err = fmt.Errorf("unknown blob type %d", t)
			break
		}
		out = append(out, MarkedPack{Type: t, ID: r.id()})
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("deletion mark: %v: %w", r.err, ErrDamaged)
	}
	return out, nil
}

// SaveMark stores a deletion mark naming packs. Like SaveSegment it
// refuses (ErrLeaseLost) while a lock taken through r has lost its lease.
func (r *Repository) SaveMark(ctx context.Context, packs []MarkedPack) (id.ID, error) {
	if err := r.checkLeases(); err != nil {
		return id.Zero, fmt.Errorf("deletion mark not saved: %w", err)
	}
	return r.saveObject(ctx, kindMark, EncodeMark(packs))
}

// RemoveMark removes a deletion mark; one already gone is no error.
func (r *Repository) RemoveMark(ctx context.Context, mid id.ID) error {
	name := kindFolder[kindMark] + mid.String()
	if err := r.be.Remove(ctx, name); err != nil && !errors.Is(err, backends.ErrNotFound) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Marks lists and reads every stored deletion mark, by ID. A damaged mark
// is returned with Err set; any other failure (a listing or a read that
// failed, a mark of a newer format) is the error.
func (r *Repository) Marks(ctx context.Context) ([]Mark, error) {
	folder := kindFolder[kindMark]
	var marks []Mark
	err := r.be.List(ctx, folder, func(fi backends.Info) error {
		hex := strings.TrimPrefix(fi.Name, folder)
		if mid, err := id.Parse(hex); err == nil && mid.String() == hex {
			marks = append(marks, Mark{ID: mid, Time: fi.ModTime, size: fi.Size})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deletion marks: %w", err)
	}
	sort.Slice(marks, func(i, j int) bool { return marks[i].ID.String() < marks[j].ID.String() })
	out := marks[:0]
	for _, m := range marks {
		b, err := r.loadListedObject(ctx, kindMark, m.ID, m.size)
		if err == nil {
			m.Packs, err = DecodeMark(b)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			continue // removed while listed: its packs are gone
		case err != nil && errors.Is(err, ErrDamaged) && !errors.Is(err, ErrUnsupported):
			m.Packs, m.Err = nil, err
		case err != nil:
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// MarkedPacks returns the packs that deletion marks name, each with the
// time of the oldest mark naming it. A damaged mark is logged and left
// out: prune deletes nothing by a mark it cannot read either.
func (r *Repository) MarkedPacks(ctx context.Context) (map[id.ID]time.Time, error) {
	marks, err := r.Marks(ctx)
	if err != nil {
		return nil, err
	}
	out := map[id.ID]time.Time{}
	for _, m := range marks {
		if m.Err != nil {
			r.logf("%v; the packs it names are used as any others, and the next prune removes it", m.Err)
			continue
		}
		for _, p := range m.Packs {
			if t, ok := out[p.ID]; !ok || m.Time.Before(t) {
				out[p.ID] = m.Time
			}
		}
	}
	return out, nil
}

// ErrPrunedMeanwhile: while a writer ran, a prune marked for deletion, or
// deleted, data the snapshot it was about to commit relies on; no snapshot
// was written.
var ErrPrunedMeanwhile = errors.New("a prune marked for deletion or removed data this snapshot relies on while it was being written")

// AvoidLostAndMarked makes the saver store anew a blob the index places
// only in packs that storage has lost or that a prune marked for deletion,
// so that a snapshot never relies on them (see Mark), even if the
// writer's lock fails. A writer that deduplicates against the repository
// calls it before it saves anything, and CheckPruned before it commits.
func (s *Saver) AvoidLostAndMarked(ctx context.Context) error {
	packs, err := s.r.ListPacks(ctx, nil)
	if err != nil {
		return err
	}
	marked, err := s.r.MarkedPacks(ctx)
	if err != nil {
		return err
	}
	stored := make(map[id.ID]bool, len(packs))
	for pid := range packs {
		if _, ok := marked[pid]; !ok {
			stored[pid] = true
		}
	}
	s.CheckPacks(stored)
	return nil
}

// CheckPruned refuses (ErrPrunedMeanwhile) to let a snapshot be committed
// that relies on a pack a prune marked for deletion, or took out of the
// index, while the saver ran (packs marked before AvoidLostAndMarked did
// not count). A prune ran, so the writer's lock failed (the clocks of this
// host and the pruning one differ, or the lock was removed), and a mark
// may be older than it looks: the pack may be deleted at any time.
func (s *Saver) CheckPruned(ctx context.Context) error {
	if err := s.r.SyncIndex(ctx); err != nil {
		// A cache folder that filled up during the run: the saver is
		// done with the index, so carry on with a private copy (not in
		// the daemon, whose live mount reads the index meanwhile).
		if !cacheUnwritable(err) || s.r.tmpCache != "" || s.r.longLived {
			return fmt.Errorf("snapshot not saved: %w", err)
		}
		if perr := s.r.privateIndex(); perr != nil {
			return fmt.Errorf("snapshot not saved: %w (and a private local index: %v)", err, perr)
		}
		s.r.Logf("%v; using a private local index for the rest of this run", err)
		if err := s.r.SyncIndex(ctx); err != nil {
			return fmt.Errorf("snapshot not saved: %w", err)
		}
	}
	marked, err := s.r.MarkedPacks(ctx)
	if err != nil {
		return fmt.Errorf("snapshot not saved: %w", err)
	}
	relied := s.Relied()
	gone, err := s.r.Index().Unindexed(relied)
	if err != nil {
		return fmt.Errorf("snapshot not saved: local index: %w", err)
	}
	for _, pid := range relied {
		if _, ok := marked[pid]; ok {
			gone = append(gone, pid)
		}
	}
	if len(gone) > 0 {
		packs := fmt.Sprintf("%d packs, pack %s the first", len(gone), gone[0].Short())
		if len(gone) == 1 {
			packs = "pack " + gone[0].Short()
		}
		return fmt.Errorf("snapshot not saved: %w (%s): a prune ran although this writer held its lock (are the clocks of the hosts far apart, or was the lock removed?); run it again, which stores that data anew",
			ErrPrunedMeanwhile, packs)
	}
	return nil
}
