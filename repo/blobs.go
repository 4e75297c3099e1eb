package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
	"github.com/cairn-backup/cairn/repo/tree"
)

// LoadBlob reads, authenticates and decompresses one blob, verifying that
// it hashes to bid. buf, if it has room, receives the plaintext. Errors name
// the pack so a damaged one can be found.
func (r *Repository) LoadBlob(ctx context.Context, t id.BlobType, bid id.ID, buf []byte) ([]byte, error) {
	return r.loadBlob(ctx, t, bid, buf, nil)
}

// BlobBuffers are a reader's own buffers for LoadBlobWith: each grows to
// the largest blob it has held and stays, so a reader that loads many
// blobs of many sizes holds two buffers, not one of every size.
type BlobBuffers struct {
	plain, stored []byte
}

// LoadBlobWith is LoadBlob reading, decrypting and decompressing into
// bufs. The plaintext is valid until the next call with bufs.
func (r *Repository) LoadBlobWith(ctx context.Context, t id.BlobType, bid id.ID, bufs *BlobBuffers) ([]byte, error) {
	return r.loadBlob(ctx, t, bid, nil, bufs)
}

// grow returns b's storage if it holds n bytes, else a new buffer of at
// least twice its capacity.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:0]
	}
	return make([]byte, 0, max(n, min(2*cap(b), pack.MaxBlobSize+pack.BlobOverhead)))
}

func (r *Repository) loadBlob(ctx context.Context, t id.BlobType, bid id.ID, buf []byte, bufs *BlobBuffers) ([]byte, error) {
	plain, err := r.loadBlobOnce(ctx, t, bid, buf, bufs)
	if err == nil || ctx.Err() != nil || !(errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotFound)) {
		return plain, err
	}
	before, knew, _ := r.idx.Lookup(bid)
	// A reader that holds no lock (a mount, the TUI) may have a local
	// index older than a prune another host ran since: the blob was
	// repacked and its old pack deleted. Bring the index in step and, if
	// it now says the blob is elsewhere, read it there.
	if serr := r.SyncIndex(ctx); serr != nil {
		return nil, err
	}
	now, ok, lerr := r.idx.Lookup(bid)
	if lerr == nil && !ok && knew {
		// The index knew the blob when this reader read it, and the
		// stored segments no longer do: a prune removed it as unused,
		// its snapshots forgotten meanwhile, which is not damage; or
		// its pack was lost and a repair index elsewhere dropped it,
		// which is, and its snapshot is still there. Nothing here
		// tells the two apart: say both.
		return nil, fmt.Errorf("%s blob %s is no longer in the index: removed by a prune after this reader read the index (its snapshots forgotten meanwhile), "+
			"or lost with its pack and dropped by a repair index (cairn check tells whether a snapshot still needs it): %w", t, bid, ErrNotFound)
	}
	if lerr != nil || !ok || now == before {
		return nil, err
	}
	return r.loadBlobOnce(ctx, t, bid, buf, bufs)
}

// loadBlobOnce is loadBlob with the local index as it is.
func (r *Repository) loadBlobOnce(ctx context.Context, t id.BlobType, bid id.ID, buf []byte, bufs *BlobBuffers) ([]byte, error) {
	loc, ok, err := r.idx.Lookup(bid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s blob %s is in no index segment (cairn check tells what is lost; cairn repair index rebuilds the index from the packs): %w", t, bid, ErrNotFound)
	}
	if loc.Type != t {
		return nil, fmt.Errorf("blob %s is a %s blob, not %s: %w", bid, loc.Type, t, ErrDamaged)
	}
	plain, err := r.loadAt(ctx, loc, buf, bufs)
	if err != nil && errors.Is(err, ErrDamaged) && !backends.IsUncached(ctx) && ctx.Err() == nil &&
		backends.MayServeCopy(r.be, PackName(loc.Type, loc.Pack)) {
		// A local copy of the pack (the metadata cache keeps tree
		// packs) may be what is damaged: ask the storage itself.
		if p, uerr := r.loadAt(backends.Uncached(ctx), loc, buf, bufs); uerr == nil {
			return p, nil
		}
	}
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
		if plain, aerr := r.loadAt(ctx, alt, buf, bufs); aerr == nil {
			return plain, nil
		}
	}
	return nil, err
}

// loadAt reads the blob at loc, authenticates and decompresses it: into
// bufs when given (an uncompressed blob is decrypted where it was read),
// else from a buffer of bufpool into buf.
func (r *Repository) loadAt(ctx context.Context, loc index.Blob, buf []byte, bufs *BlobBuffers) ([]byte, error) {
	t, bid := loc.Type, loc.ID
	name := PackName(loc.Type, loc.Pack)
	var stored []byte
	if bufs != nil {
		bufs.stored = grow(bufs.stored, int(loc.Length))
		stored = bufs.stored[:loc.Length]
	} else {
		stored = bufpool.Get(int(loc.Length))[:loc.Length]
		defer bufpool.Put(stored)
	}
	if err := backends.LoadInto(ctx, r.be, name, int64(loc.Offset), stored); err != nil {
		return nil, packReadError(fmt.Sprintf("%s (holding %s blob %s)", name, t, bid.Short()), name, err)
	}
	var plain []byte
	var err error
	if bufs != nil {
		if len(stored) > 0 && stored[0]&pack.FlagZstd != 0 {
			bufs.plain = grow(bufs.plain, int(loc.RawLength))
		}
		plain, err = r.codec.OpenInPlace(bufs.plain, t, bid, stored, int(loc.RawLength))
	} else {
		plain, err = r.codec.OpenOwned(buf, t, bid, stored, int(loc.RawLength))
	}
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

// LoadTreePartial is LoadTree that leaves out the entries that do not
// decode (a name like "..", "a/b" or "", an unknown kind) and keeps the
// rest of the folder: skipped is nil, or an error wrapping ErrDamaged that
// names the tree and every entry left out. err is as LoadTree's, for a tree
// that could not be read at all. Restore, dump, mount, ls and find use it to
// show what can be shown; check keeps to LoadTree.
func (r *Repository) LoadTreePartial(ctx context.Context, tid id.ID) (nodes []*tree.Node, skipped, err error) {
	b, err := r.LoadBlob(ctx, id.TreeBlob, tid, nil)
	if err != nil {
		return nil, nil, err
	}
	nodes, bad, err := tree.DecodePartial(b)
	if err != nil {
		return nil, nil, fmt.Errorf("tree %s: %v: %w", tid.Short(), err, ErrDamaged)
	}
	if len(bad) > 0 {
		msgs := make([]string, len(bad))
		for i, e := range bad {
			msgs[i] = e.Error()
		}
		skipped = fmt.Errorf("tree %s: %s: %w", tid.Short(), strings.Join(msgs, "; "), ErrDamaged)
	}
	return nodes, skipped, nil
}

// LoadBlobs reads the blobs bs, all of one pack and sorted by offset, with
// one read of the pack's bytes from the first to the end of the last, and
// calls fn for each with its plaintext (valid only during the call) or the
// error that blob alone had. The error returned is the read's: then fn is
// not called. For remote storage, where every request costs a round trip
// and often money, this reads packs, not blobs.
func (r *Repository) LoadBlobs(ctx context.Context, bs []index.Blob, fn func(b index.Blob, plain []byte, err error)) error {
	return r.LoadBlobsInto(ctx, bs, nil, nil, fn)
}

// SpanLength is how many bytes of their pack LoadBlobs reads for bs.
func SpanLength(bs []index.Blob) int64 {
	if len(bs) == 0 {
		return 0
	}
	last := bs[len(bs)-1]
	return int64(last.Offset) + int64(last.Length) - int64(bs[0].Offset)
}

// LoadBlobsInto is LoadBlobs reading the pack's bytes into span when it is
// long enough (see SpanLength), and decompressing into buffers from free
// when that is not nil, so that a caller that owns its buffers allocates
// nothing. Blobs are decrypted in place in span: fn's plaintext may be a
// part of it, and is shared by the calls for a blob listed more than once:
// fn must not modify it.
func (r *Repository) LoadBlobsInto(ctx context.Context, bs []index.Blob, span []byte, free *bufpool.List, fn func(b index.Blob, plain []byte, err error)) error {
	if len(bs) == 0 {
		return nil
	}
	first := bs[0]
	name := PackName(first.Type, first.Pack)
	start := int64(first.Offset)
	end := start + SpanLength(bs)
	var stored []byte
	if int64(len(span)) >= end-start {
		stored = span[:end-start]
	} else {
		stored = bufpool.Get(int(end - start))[:end-start]
		defer bufpool.Put(stored)
	}
	if err := backends.LoadInto(ctx, r.be, name, start, stored); err != nil {
		return packReadError(name, name, err)
	}
	get, put := bufpool.Get, bufpool.Put
	if free != nil {
		get, put = free.Get, free.Put
	}
	// A blob decrypted in place is gone from stored: the same blob listed
	// again (a chunk two files share) gets the same plaintext.
	var prev *index.Blob
	var buf, plain []byte
	var err error
	for i, b := range bs {
		if b.Pack != first.Pack || int64(b.Offset) < start || int64(b.Offset)+int64(b.Length) > end {
			fn(b, nil, fmt.Errorf("blob %s is not in the range read from pack %s", b.ID.Short(), name))
			continue
		}
		if prev == nil || b.Offset != prev.Offset || b.Length != prev.Length || b.ID != prev.ID || b.Type != prev.Type || b.RawLength != prev.RawLength {
			if buf != nil {
				put(buf) // plain is buf, or a buffer of its own for the collector
				buf = nil
			}
			prev = &bs[i]
			lo := int64(b.Offset) - start
			blob := stored[lo : lo+int64(b.Length)]
			// Only a compressed blob needs a buffer: decryption is in
			// place.
			if len(blob) > 0 && blob[0]&pack.FlagZstd != 0 {
				buf = get(int(b.RawLength))
			}
			plain, err = r.codec.OpenInPlace(buf, b.Type, b.ID, blob, int(b.RawLength))
			if err != nil {
				plain, err = nil, fmt.Errorf("pack %s: %v: %w", name, err, ErrDamaged)
			}
		}
		fn(b, plain, err)
	}
	if buf != nil {
		put(buf)
	}
	return nil
}
