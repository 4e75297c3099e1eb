package prune

import (
	"context"
	"fmt"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// copyUsed copies the used blobs out of the packs to repack into new
// packs, and returns once those packs and the index segments naming them
// are durable. Every blob is authenticated and re-hashed on the way.
func (p *plan) copyUsed(ctx context.Context, r *repo.Repository) (repo.SaverStats, error) {
	uploaders := 1
	if par, ok := backends.As[backends.Parallel](r.Backend()); ok {
		uploaders = par.Connections()
	}
	s := r.NewRepackSaver(ctx, uploaders)
	for _, pk := range p.repack {
		if err := p.copyPack(ctx, r, s, pk); err != nil {
			s.Flush()
			return s.Stats(), fmt.Errorf("%w (nothing was deleted)", err)
		}
	}
	if err := s.Flush(); err != nil {
		return s.Stats(), fmt.Errorf("repack: %w (nothing was deleted)", err)
	}
	return s.Stats(), nil
}

// Reads of a pack being repacked span neighbouring used blobs, skipping
// gaps of unused ones longer than readGap, up to readMax bytes at once.
const (
	readGap = 1 << 20
	readMax = 16 << 20
)

// copyPack saves the used blobs kept in pk through s.
func (p *plan) copyPack(ctx context.Context, r *repo.Repository, s *repo.Saver, pk *packState) error {
	var used []index.Blob
	for _, b := range pk.indexPack().Blobs {
		if p.kept[b.ID] == pk {
			used = append(used, b)
		}
	}
	for len(used) > 0 {
		start, end := int64(used[0].Offset), int64(used[0].Offset)+int64(used[0].Length)
		n := 1
		for ; n < len(used); n++ {
			off, e := int64(used[n].Offset), int64(used[n].Offset)+int64(used[n].Length)
			if off-end > readGap || e-start > readMax {
				break
			}
			end = e
		}
		data, err := r.Backend().Load(ctx, pk.name, start, end-start)
		if err != nil {
			return fmt.Errorf("read pack %s to repack it: %w; run `cairn check`", pk.name, err)
		}
		for _, b := range used[:n] {
			stored := data[int64(b.Offset)-start : int64(b.Offset)-start+int64(b.Length)]
			plain, err := r.Codec().Open(nil, b.Type, b.ID, stored, int(b.RawLength))
			if err != nil {
				return fmt.Errorf("pack %s: %s blob %s: %v: %w; run `cairn check --read-data`", pk.name, b.Type, b.ID.Short(), err, repo.ErrDamaged)
			}
			if _, err := s.Save(b.Type, b.ID, plain); err != nil {
				return fmt.Errorf("repack: %w", err)
			}
		}
		used = used[n:]
	}
	return nil
}

// writeIndex writes the compacted index: every kept pack that was indexed,
// in segments of at most repo.MaxSegmentBlobs blobs. Only the last segment
// written supersedes the old ones, so that until it exists they stay in
// force. With nothing left to index, one empty segment still records what
// it supersedes.
func (p *plan) writeIndex(ctx context.Context, r *repo.Repository) ([]id.ID, error) {
	var packs []index.Pack
	for _, pk := range p.keep {
		if pk.indexed {
			packs = append(packs, pk.indexPack())
		}
	}
	chunks := repo.SplitSegments(packs, repo.MaxSegmentBlobs)
	var written []id.ID
	for i, c := range chunks {
		seg := &repo.Segment{Packs: c}
		if i == len(chunks)-1 {
			seg.Supersedes = p.segments
		}
		sid, err := r.SaveSegment(ctx, seg)
		if err != nil {
			return written, fmt.Errorf("write index segment: %w (nothing was deleted)", err)
		}
		written = append(written, sid)
	}
	return written, nil
}
