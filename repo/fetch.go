package repo

import (
	"context"
	"errors"
	"sync"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/par"
)

// fetchReaders is how many small objects a reader of a local folder loads
// at once: enough to overlap the reads with decryption on two cores.
// Remote storage gets its connection count instead, since there each read
// waits a round trip.
const fetchReaders = 4

// fetchConcurrency is how many snapshots or index segments are read at
// once. Read one at a time, each waits its own round trip: on a new
// machine, listing 3,000 snapshots on storage 30 ms away would wait 90 s.
func (r *Repository) fetchConcurrency() int {
	if p, ok := backends.As[backends.Parallel](r.be); ok && p.Connections() > fetchReaders {
		return p.Connections()
	}
	return fetchReaders
}

// objectFault reports whether err is the fault of the object read (it is
// damaged, missing, or of a newer format) rather than of the storage or
// the context: only then is it worth reading the others.
func objectFault(err error) bool {
	for _, s := range []error{ErrDamaged, ErrNotFound, ErrUnsupported, backends.ErrNotFound, backends.ErrRange} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fetchAll loads each of ids with load, several at once, and returns the
// results and the objects' own errors (see objectFault) in the order of
// ids. Any other error stops the loads not yet started, and fetchAll
// returns the first such error as err.
func fetchAll[T any](ctx context.Context, r *Repository, ids []id.ID, load func(context.Context, id.ID) (T, error)) (vs []T, errs []error, err error) {
	vs, errs = make([]T, len(ids)), make([]error, len(ids))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var once sync.Once
	par.Each(ctx, r.fetchConcurrency(), len(ids), func(i int) {
		v, err := load(ctx, ids[i])
		switch {
		case err == nil:
			vs[i] = v
		case objectFault(err):
			errs[i] = err
		default:
			once.Do(func() { cancel(err) })
		}
	})
	if ctx.Err() != nil {
		return nil, nil, context.Cause(ctx)
	}
	return vs, errs, nil
}

// LoadSegments reads the index segments sids, several at once, and returns
// them in the same order. One that is damaged, missing or of a newer
// format is nil, with its error in errs. Any other error (the storage
// failed, ctx ended) stops the reads and is returned as err.
func (r *Repository) LoadSegments(ctx context.Context, sids []id.ID) (segs []*Segment, errs []error, err error) {
	return fetchAll(ctx, r, sids, r.LoadSegment)
}
