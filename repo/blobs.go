package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/backends"
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
	name := PackName(loc.Type, loc.Pack)
	var stored []byte
	if li, ok := r.be.(backends.LoaderInto); ok {
		stored = bufpool.Get(int(loc.Length))[:loc.Length]
		defer bufpool.Put(stored)
		err = li.LoadInto(ctx, name, int64(loc.Offset), stored)
	} else {
		stored, err = r.be.Load(ctx, name, int64(loc.Offset), int64(loc.Length))
	}
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) || errors.Is(err, backends.ErrRange) {
			return nil, fmt.Errorf("pack %s (holding %s blob %s): %v: %w", name, t, bid.Short(), err, ErrDamaged)
		}
		return nil, fmt.Errorf("read pack %s: %w", name, err)
	}
	plain, err := r.codec.Open(buf, t, bid, stored, int(loc.RawLength))
	if err != nil {
		return nil, fmt.Errorf("pack %s: %v: %w", name, err, ErrDamaged)
	}
	return plain, nil
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
