package repair

import (
	"context"
	"fmt"
	"sort"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/pack"
)

// writeSalvage copies the verified blobs of damaged packs that no intact
// pack holds into new packs, and reports the damaged packs.
func writeSalvage(ctx context.Context, r *repo.Repository, found []*examined, have map[id.ID]bool, res *IndexResult) ([]index.Pack, error) {
	var out []index.Pack
	writers := map[id.BlobType]*pack.Writer{}
	flush := func(t id.BlobType) error {
		w := writers[t]
		delete(writers, t)
		if w == nil || w.Count() == 0 {
			return nil
		}
		b, pid := w.Finish(r.Codec().Key)
		entries, err := pack.Verify(r.Codec(), b)
		if err != nil {
			return fmt.Errorf("verify new pack: %w", err)
		}
		name := repo.PackName(t, pid)
		if err := r.Backend().Save(ctx, name, b); err != nil {
			return repo.OnObject("save", name, err)
		}
		p := index.Pack{ID: pid, Type: t}
		for _, e := range entries {
			p.Blobs = append(p.Blobs, index.Blob{ID: e.ID, Type: e.Type, Pack: pid, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
		}
		out = append(out, p)
		res.Salvage = append(res.Salvage, name)
		return nil
	}
	for _, ex := range found {
		if ex.err == nil {
			continue
		}
		rep := PackReport{Name: ex.sp.Name(), Err: ex.err, Blobs: ex.known, Unindexed: ex.unindexed}
		for _, g := range ex.good {
			if have[g.e.ID] {
				rep.Salvaged++
				continue
			}
			t := g.e.Type
			w := writers[t]
			if w == nil {
				w = pack.NewWriter(t, 1<<20)
				writers[t] = w
			}
			w.AddSealed(g.e.ID, g.stored, int(g.e.RawLength))
			have[g.e.ID] = true
			rep.Salvaged++
			target := treePackSize
			if t == id.DataBlob {
				target = r.Config().PackSize
			}
			if w.Size() >= target {
				if err := flush(t); err != nil {
					return nil, err
				}
			}
		}
		res.Damaged = append(res.Damaged, rep)
	}
	for _, t := range []id.BlobType{id.DataBlob, id.TreeBlob} {
		if err := flush(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeSegments stores the new index: packs in segments of bounded size,
// the last of which supersedes every old segment.
func writeSegments(ctx context.Context, r *repo.Repository, packs []index.Pack, old []id.ID, res *IndexResult) error {
	sort.Slice(packs, func(i, j int) bool { return packs[i].ID.String() < packs[j].ID.String() })
	var groups [][]index.Pack
	n := 0
	for _, p := range packs {
		if len(groups) == 0 || n+len(p.Blobs) > maxSegmentBlobs && n > 0 {
			groups = append(groups, nil)
			n = 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], p)
		n += len(p.Blobs)
		res.Packs++
		res.Blobs += len(p.Blobs)
	}
	for i, g := range groups {
		s := &repo.Segment{Packs: g}
		if i == len(groups)-1 {
			s.Supersedes = old
		}
		sid, err := r.SaveSegment(ctx, s)
		if err != nil {
			return fmt.Errorf("write index segment (the old index is still in force): %w", err)
		}
		res.Written = append(res.Written, sid)
	}
	return nil
}
