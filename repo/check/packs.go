package check

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/b3"
	"github.com/cairn-backup/cairn/repo/internal/par"
	"github.com/cairn-backup/cairn/repo/pack"
)

// expectedSize is the size of a pack holding the blobs, as its writer
// made it: the blobs, the sealed header listing them, the trailer.
func expectedSize(blobs []index.Blob) int64 {
	entries := sortedEntries(blobs)
	var end int64
	for _, e := range entries {
		end = max(end, int64(e.Offset)+int64(e.Length))
	}
	return end + int64(len(pack.EncodeHeader(entries))) + crypto.Overhead + pack.TrailerSize
}

func sortedEntries(blobs []index.Blob) []pack.Entry {
	entries := make([]pack.Entry, len(blobs))
	for i, b := range blobs {
		entries[i] = pack.Entry{Type: b.Type, ID: b.ID, Offset: b.Offset, Length: b.Length, RawLength: b.RawLength}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Offset < entries[j].Offset })
	return entries
}

// checkPacks lists the stored packs and checks every indexed one: there,
// of the right size, with a header that agrees with the index. The
// headers of packs no segment names are read too, to know what they hold.
func (c *checker) checkPacks(ctx context.Context) error {
	stored, err := c.r.ListPacks(ctx, func(name string) {
		c.notice(StrayObject, name, "not a pack name; cairn ignores it")
	})
	if err != nil {
		return err
	}
	c.stored = stored
	var indexed []*packState
	for _, ps := range c.packs {
		indexed = append(indexed, ps)
	}
	sort.Slice(indexed, func(i, j int) bool { return indexed[i].pack.ID.String() < indexed[j].pack.ID.String() })
	par.Each(ctx, c.opt.Workers, len(indexed), func(i int) { c.checkPack(ctx, indexed[i]) })

	var unref []*unrefPack
	for pid, sp := range stored {
		if _, ok := c.packs[pid]; !ok {
			u := &unrefPack{sp: sp}
			c.unref[pid] = u
			unref = append(unref, u)
		}
	}
	par.Each(ctx, c.opt.Workers, len(unref), func(i int) {
		unref[i].entries, unref[i].err = c.r.ReadPackHeader(ctx, unref[i].sp)
	})
	sort.Slice(unref, func(i, j int) bool { return unref[i].sp.ID.String() < unref[j].sp.ID.String() })
	for _, u := range unref {
		if u.err != nil && ctx.Err() == nil && readFailure(u.err) {
			// What it holds is unknown: blobs only it holds may be
			// called missing below, for want of knowing better.
			c.unreadable(u.sp.Name(), "its header", u.err)
		}
		for _, e := range u.entries {
			c.unrefBlobs[e.ID] = append(c.unrefBlobs[e.ID], u)
		}
	}
	return ctx.Err()
}

func (c *checker) checkPack(ctx context.Context, ps *packState) {
	p := ps.pack
	sp, ok := c.stored[p.ID]
	if !ok || sp.Type != p.Type {
		c.mu.Lock()
		ps.allBad = true
		c.mu.Unlock()
		msg := fmt.Sprintf("missing (%s, listed in index/%s)", count(len(p.Blobs), "blob"), ps.segment)
		if c.keepsCopy(p.Type, p.ID) {
			msg += "; this host's metadata cache keeps a copy of it, which `cairn repair index` stores again"
		}
		c.packProblem(ps, PackMissing, msg)
		return
	}
	if want := expectedSize(p.Blobs); sp.Size != want {
		beyond := 0
		c.mu.Lock()
		for _, b := range p.Blobs {
			if int64(b.Offset)+int64(b.Length) > sp.Size {
				if ps.bad == nil {
					ps.bad = map[id.ID]bool{}
				}
				ps.bad[b.ID] = true
				beyond++
			}
		}
		c.mu.Unlock()
		what := "size differs"
		if sp.Size < want {
			what = "truncated"
		}
		c.packProblem(ps, PackDamaged, fmt.Sprintf("%s: %d bytes stored, the index implies %d; %d of %s lie beyond the end", what, sp.Size, want, beyond, count(len(p.Blobs), "blob")))
	}
	entries, err := c.r.ReadPackHeader(ctx, sp)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if readFailure(err) {
			c.unreadable(ps.name(), "its header", err)
			return
		}
		c.packProblem(ps, PackDamaged, "header: "+trimErr(err, "pack "+ps.name()))
		return
	}
	c.compareHeader(ps, entries)
}

// compareHeader checks that the header lists exactly the indexed blobs,
// where the index says they are. An indexed blob the header places
// elsewhere cannot be read through the index.
func (c *checker) compareHeader(ps *packState, entries []pack.Entry) {
	hdr := map[id.ID]pack.Entry{}
	for _, e := range entries {
		hdr[e.ID] = e
	}
	var wrong, unlisted []string
	c.mu.Lock()
	for _, b := range ps.pack.Blobs {
		e, ok := hdr[b.ID]
		if ok && e.Type == b.Type && e.Offset == b.Offset && e.Length == b.Length && e.RawLength == b.RawLength {
			delete(hdr, b.ID)
			continue
		}
		if ps.bad == nil {
			ps.bad = map[id.ID]bool{}
		}
		ps.bad[b.ID] = true
		if ok {
			wrong = append(wrong, b.ID.Short())
			delete(hdr, b.ID)
		} else {
			unlisted = append(unlisted, b.ID.Short())
		}
	}
	c.mu.Unlock()
	var msgs []string
	if len(wrong) > 0 {
		msgs = append(msgs, fmt.Sprintf("the header places blobs %s elsewhere than the index", strings.Join(wrong, ", ")))
	}
	if len(unlisted) > 0 {
		msgs = append(msgs, fmt.Sprintf("the header does not list indexed blobs %s", strings.Join(unlisted, ", ")))
	}
	if len(hdr) > 0 {
		msgs = append(msgs, fmt.Sprintf("the header lists %d blobs the index lacks", len(hdr)))
	}
	if len(msgs) > 0 {
		c.packProblem(ps, PackMismatch, "index and header disagree: "+strings.Join(msgs, "; "))
	}
}

// keepsCopy reports whether this host's metadata cache holds a copy of a
// pack storage lost whose bytes hash to its name (tree packs are kept):
// restores read it, and repair index stores it again.
func (c *checker) keepsCopy(t id.BlobType, pid id.ID) bool {
	name := repo.PackName(t, pid)
	if !backends.MayServeCopy(c.r.Backend(), name) {
		return false
	}
	b, err := c.r.Backend().Load(c.cached, name, 0, -1)
	return err == nil && id.ID(b3.Sum256(b)) == pid
}
