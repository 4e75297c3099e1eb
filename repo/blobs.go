package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// LoadBlob reads, authenticates and decompresses one blob, verifying that
// it hashes to bid. buf, if it has room, receives the plaintext. Errors name
// the pack so a damaged one can be found.
func (r *Repository) LoadBlob(ctx context.Context, t id.BlobType, bid id.ID, buf []byte) ([]byte, error) {
	loc, ok, err := r.idx.Lookup(bid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s blob %s is in no index segment: %w", t, bid, ErrNotFound)
	}
	if loc.Type != t {
		return nil, fmt.Errorf("blob %s is a %s blob, not %s: %w", bid, loc.Type, t, ErrDamaged)
	}
	plain, err := r.loadAt(ctx, loc, buf)
	if err == nil || !errors.Is(err, ErrDamaged) {
		return plain, err
	}
	// The pack is lost or the copy damaged: another index segment may
	// name another copy (stored again by an ingest that found it lost).
	alts, aerr := r.idx.Alternatives(bid)
	if aerr != nil {
		return nil, errors.Join(err, aerr)
	}
	for _, alt := range alts {
		if alt.Type != t || alt.Pack == loc.Pack {
			continue
		}
		if plain, aerr := r.loadAt(ctx, alt, buf); aerr == nil {
			return plain, nil
		}
	}
	return nil, err
}

// loadAt reads, authenticates and decompresses the blob stored at loc.
func (r *Repository) loadAt(ctx context.Context, loc index.Blob, buf []byte) ([]byte, error) {
	t, bid := loc.Type, loc.ID
	name := PackName(loc.Type, loc.Pack)
	stored := bufpool.Get(int(loc.Length))[:loc.Length]
	defer bufpool.Put(stored)
	if err := backends.LoadInto(ctx, r.be, name, int64(loc.Offset), stored); err != nil {
		return nil, packReadError(fmt.Sprintf("%s (holding %s blob %s)", name, t, bid.Short()), name, err)
	}
	plain, err := r.codec.Open(buf, t, bid, stored, int(loc.RawLength))
	if err != nil {
		return nil, fmt.Errorf("pack %s: %v: %w", name, err, ErrDamaged)
	}
	return plain, nil
}

// packReadError describes a failed read of pack name (called what in the
// message): a missing pack or a range past its end is ErrDamaged, other
// errors (an outage) are not.
func packReadError(what, name string, err error) error {
	if errors.Is(err, backends.ErrNotFound) || errors.Is(err, backends.ErrRange) {
		return fmt.Errorf("pack %s: %v: %w", what, err, ErrDamaged)
	}
	return fmt.Errorf("read pack %s: %w", name, err)
}

// LoadTree reads and decodes a tree blob.
func (r *Repository) LoadTree(ctx context.Context, tid id.ID) ([]*tree.Node, error) {
	b, err := r.LoadBlob(ctx, id.TreeBlob, tid, nil)
	if err != nil {
		return nil, err
	}
	nodes, err := tree.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %v: %w", tid.Short(), err, ErrDamaged)
	}
	return nodes, nil
}

// LoadBlobs reads the blobs bs, all of one pack and sorted by offset, with
// one read of the pack's bytes from the first to the end of the last, and
// calls fn for each with its plaintext (valid only during the call) or the
// error that blob alone had. The error returned is the read's: then fn is
// not called. For remote storage, where every request costs a round trip
// and often money, this reads packs, not blobs.
func (r *Repository) LoadBlobs(ctx context.Context, bs []index.Blob, fn func(b index.Blob, plain []byte, err error)) error {
	if len(bs) == 0 {
		return nil
	}
	first, last := bs[0], bs[len(bs)-1]
	name := PackName(first.Type, first.Pack)
	start, end := int64(first.Offset), int64(last.Offset)+int64(last.Length)
	stored := bufpool.Get(int(end - start))[:end-start]
	defer bufpool.Put(stored)
	if err := backends.LoadInto(ctx, r.be, name, start, stored); err != nil {
		return packReadError(name, name, err)
	}
	for _, b := range bs {
		if b.Pack != first.Pack || int64(b.Offset) < start || int64(b.Offset)+int64(b.Length) > end {
			fn(b, nil, fmt.Errorf("blob %s is not in the range read from pack %s", b.ID.Short(), name))
			continue
		}
		lo := int64(b.Offset) - start
		buf := bufpool.Get(int(b.RawLength))
		plain, err := r.codec.Open(buf, b.Type, b.ID, stored[lo:lo+int64(b.Length)], int(b.RawLength))
		if err != nil {
			err = fmt.Errorf("pack %s: %v: %w", name, err, ErrDamaged)
		}
		fn(b, plain, err)
		bufpool.Put(buf) // plain is buf, or a buffer of its own for the collector
	}
	return nil
}
