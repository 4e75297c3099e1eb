package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/b3"
	"github.com/cairn-backup/cairn/repo/pack"
)

// Stored objects other than packs (snapshots, index segments, deletion
// marks, locks) are one sealed envelope: format byte (1), flags (bit 0:
// zstd), then nonce, ciphertext and tag. The additional data is "cairn
// object v1 " + kind + the flags byte, so a snapshot cannot be passed off
// as a lock.
const objectFormat = 1

// Object kinds and the folders they live in.
const (
	kindSnapshot = "snapshot"
	kindIndex    = "index"
	kindLock     = "lock"
	kindMark     = "condemned"
)

var kindFolder = map[string]string{kindSnapshot: "snapshots/", kindIndex: "index/", kindLock: "locks/", kindMark: "condemned/"}

// maxEnvelope bounds a stored snapshot or deletion mark. A compressed
// envelope opens to at most MaxBlobSize bytes, so it is smaller than that,
// snapshots (JSON) are always compressed, and a mark takes 33 bytes per
// pack it condemns, so it reaches that only past 8 million packs. A
// larger object is refused by its size, before any of it is read: anyone who can write to the storage
// could otherwise make every command that lists snapshots load a file of
// many GiB into memory.
const maxEnvelope = 2 + pack.MaxBlobSize + crypto.Overhead

// maxObject is the size above which an object of kind is refused unread,
// or -1 for none. Index segments have none: their random blob IDs do not
// compress, so they are stored as they are, and cairn until November 2026
// wrote an ingest's checkpoint as one segment naming every pack uploaded
// since the previous one, however many blobs that was (about 38 bytes
// each; 256 MiB of packs by default, any amount with CAIRN_CHECKPOINT_MIB,
// and one pack of up to 1 GiB can hold 25 million blobs of a few bytes).
// Segments of several GiB are therefore valid, and a reader must not
// refuse one. Writers now split at MaxSegmentBlobs (about 19 MiB).
func maxObject(kind string) int64 {
	if kind == kindIndex {
		return -1
	}
	return maxEnvelope
}

func objectAD(kind string, flags byte) []byte {
	return append([]byte("cairn object v1 "+kind), flags)
}

func (r *Repository) sealObject(kind string, plain []byte) []byte {
	flags := byte(0)
	body := plain
	if z := r.codec.Compress(plain); z != nil {
		flags, body = 1, z
	}
	out := []byte{objectFormat, flags}
	return r.key.Seal(out, body, objectAD(kind, flags))
}

func (r *Repository) openObject(kind, name string, b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != objectFormat || b[1]&^1 != 0 {
		return nil, fmt.Errorf("%s: unknown object format: %w", name, ErrDamaged)
	}
	body, err := r.key.Open(nil, b[2:], objectAD(kind, b[1]))
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, ErrDamaged)
	}
	if b[1]&1 != 0 {
		body, err = r.codec.Decompress(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", name, err, ErrDamaged)
		}
	}
	return body, nil
}

// saveObject seals plain and stores it under its content address, returning
// the ID (BLAKE3-256 of the stored bytes).
func (r *Repository) saveObject(ctx context.Context, kind string, plain []byte) (id.ID, error) {
	b := r.sealObject(kind, plain)
	oid := id.ID(b3.Sum256(b))
	name := kindFolder[kind] + oid.String()
	if err := r.be.Save(ctx, name, b); err != nil {
		return oid, OnObject("save", name, err)
	}
	return oid, nil
}

// loadObject reads and opens a content-addressed object, checking its name.
// An object that does not verify is read again from the storage itself: a
// local copy of it (the metadata cache) may be what is damaged.
func (r *Repository) loadObject(ctx context.Context, kind string, oid id.ID) ([]byte, error) {
	return r.loadListedObject(ctx, kind, oid, -1)
}

// loadListedObject is loadObject for an object whose size a listing gave
// (-1: not known, asked of the storage first).
func (r *Repository) loadListedObject(ctx context.Context, kind string, oid id.ID, size int64) ([]byte, error) {
	b, err := r.loadObjectOnce(ctx, kind, oid, size)
	if err != nil && errors.Is(err, ErrDamaged) && !backends.IsUncached(ctx) && ctx.Err() == nil &&
		backends.MayServeCopy(r.be, kindFolder[kind]+oid.String()) {
		if b2, err2 := r.loadObjectOnce(backends.Uncached(ctx), kind, oid, -1); err2 == nil {
			return b2, nil
		}
	}
	return b, err
}

func (r *Repository) loadObjectOnce(ctx context.Context, kind string, oid id.ID, size int64) ([]byte, error) {
	name := kindFolder[kind] + oid.String()
	b, err := loadBounded(ctx, r.be, name, size, maxObject(kind), kind+" object")
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		return nil, OnObject("load", name, err)
	}
	if id.ID(b3.Sum256(b)) != oid {
		return nil, fmt.Errorf("%s: content does not match its name: %w", name, ErrDamaged)
	}
	return r.openObject(kind, name, b)
}

// loadBounded loads the whole object name, refusing (ErrDamaged) without
// reading it one larger than max bytes (-1: no limit), since nothing that
// large can be a valid what. size is the object's size as a listing gave
// it, or -1 to ask the storage (only when there is a limit to check). The
// object is read to that size only: one that grew since is not read past
// it (it then fails to verify).
func loadBounded(ctx context.Context, be backends.Backend, name string, size, max int64, what string) ([]byte, error) {
	if size < 0 && max >= 0 {
		fi, err := be.Stat(ctx, name)
		if err != nil {
			return nil, err
		}
		size = fi.Size
	}
	if max >= 0 && size > max {
		return nil, fmt.Errorf("%s: %d bytes, larger than any %s can be (%d): not read: %w", name, size, what, max, ErrDamaged)
	}
	b, err := be.Load(ctx, name, 0, size)
	if errors.Is(err, backends.ErrRange) {
		// Shorter than listed: replaced since, which an immutable
		// object never is.
		return nil, fmt.Errorf("%s: changed size while read (%v): %w", name, err, ErrDamaged)
	}
	return b, err
}
