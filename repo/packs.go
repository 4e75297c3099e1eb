package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// StoredPack is a pack object found by listing the repository.
type StoredPack struct {
	ID   id.ID
	Type id.BlobType
	Size int64
}

// Name is the pack's object name.
func (p StoredPack) Name() string { return PackName(p.Type, p.ID) }

// ParsePackName reads "data/ab/<hex>" or "tree/ab/<hex>".
func ParsePackName(name string) (id.BlobType, id.ID, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 {
		return 0, id.ID{}, false
	}
	var t id.BlobType
	switch parts[0] {
	case id.DataBlob.String():
		t = id.DataBlob
	case id.TreeBlob.String():
		t = id.TreeBlob
	default:
		return 0, id.ID{}, false
	}
	pid, err := id.Parse(parts[2])
	if err != nil || pid.String() != parts[2] || parts[1] != parts[2][:2] {
		return 0, id.ID{}, false
	}
	return t, pid, true
}

// ListPacks lists every pack object under data/ and tree/. Objects there
// that are not named as packs are passed to stray when it is not nil.
func (r *Repository) ListPacks(ctx context.Context, stray func(name string)) (map[id.ID]StoredPack, error) {
	out := map[id.ID]StoredPack{}
	for _, t := range []id.BlobType{id.DataBlob, id.TreeBlob} {
		err := r.be.List(ctx, t.String()+"/", func(fi backends.Info) error {
			pt, pid, ok := ParsePackName(fi.Name)
			_, dup := out[pid]
			if !ok || pt != t || dup {
				if stray != nil {
					stray(fi.Name)
				}
				return nil
			}
			out[pid] = StoredPack{ID: pid, Type: t, Size: fi.Size}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s packs: %w", t, err)
		}
	}
	return out, nil
}

// headerTail is how much of a pack's end ReadPackHeader reads first: the
// header of a full data pack fits many times over.
const headerTail = 64 << 10

// maxPackHeader is the longest sealed header a pack of this repository
// can have: data packs close at the configured pack size, tree packs at
// treePackSize; the larger of the two bounds both.
func (r *Repository) maxPackHeader() int64 {
	return pack.MaxSealedHeader(max(int64(r.cfg.PackSize), treePackSize))
}

// MaxPackSize is the size of the largest pack this repository's writers
// can close: blobs short of the pack size (4 MiB for tree packs) by a
// byte, one more of the largest size, the longest header and the trailer.
// A stored pack larger than that is damage, which no reader need load
// whole.
func (r *Repository) MaxPackSize() int64 {
	return max(int64(r.cfg.PackSize), treePackSize) - 1 + pack.MaxBlobSize + pack.BlobOverhead + r.maxPackHeader() + pack.TrailerSize
}

// ReadPackHeader reads and opens the header of a stored pack, checking
// that every entry has the pack's type. Damage is ErrDamaged, a missing
// pack ErrNotFound; errors name the pack. A header longer than any this
// repository's writers make (maxPackHeader) is damage found without
// reading it.
func (r *Repository) ReadPackHeader(ctx context.Context, p StoredPack) ([]pack.Entry, error) {
	name := p.Name()
	if p.Size < pack.TrailerSize+crypto.Overhead+2 {
		return nil, fmt.Errorf("pack %s: %d bytes is too short for a pack: %w", name, p.Size, ErrDamaged)
	}
	n := min(p.Size, headerTail)
	tail, err := r.be.Load(ctx, name, p.Size-n, n)
	if err == nil {
		hl, terr := pack.ParseTrailer(tail[len(tail)-pack.TrailerSize:], p.Size)
		if terr == nil && hl > r.maxPackHeader() {
			return nil, fmt.Errorf("pack %s: its trailer gives the header %d bytes, more than any pack header of this repository can be (%d): not read: %w", name, hl, r.maxPackHeader(), ErrDamaged)
		}
		if terr == nil && hl+pack.TrailerSize > n {
			n = hl + pack.TrailerSize
			tail, err = r.be.Load(ctx, name, p.Size-n, n)
		}
	}
	switch {
	case errors.Is(err, backends.ErrNotFound):
		return nil, fmt.Errorf("pack %s: %w", name, ErrNotFound)
	case errors.Is(err, backends.ErrRange):
		return nil, fmt.Errorf("pack %s: shorter than listed: %w", name, ErrDamaged)
	case err != nil:
		return nil, fmt.Errorf("read pack %s: %w", name, err)
	}
	entries, err := pack.ReadHeader(r.key, tail, p.Size)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %v: %w", name, err, ErrDamaged)
	}
	for _, e := range entries {
		if e.Type != p.Type {
			return nil, fmt.Errorf("pack %s: holds a %s blob %s: %w", name, e.Type, e.ID.Short(), ErrDamaged)
		}
	}
	return entries, nil
}
