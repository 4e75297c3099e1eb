package check

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/b3"
	"github.com/cairn-backup/cairn/repo/internal/par"
)

// errShort: a pack read whole ended before its listed size.
var errShort = errors.New("shorter than listed")

// readWindow is how much of a pack one read fetches: packs are read in
// order, a window at a time, so a large pack is never held whole.
const readWindow = 8 << 20

// readData reads the selected packs whole: the bytes must hash to the
// pack's name, and every indexed blob must open and hash to its ID.
func (c *checker) readData(ctx context.Context) error {
	if !c.opt.ReadData && c.opt.Subset == nil {
		return nil
	}
	var ids []id.ID
	for pid, ps := range c.packs {
		// A missing or truncated pack is reported already.
		if ps.problem == nil || ps.problem.Kind == PackMismatch {
			ids = append(ids, pid)
		}
	}
	sortIDs(ids)
	if c.opt.Subset != nil {
		ids = c.opt.Subset.Select(ids)
	}
	var done atomic.Int64
	par.Each(ctx, c.opt.Workers, len(ids), func(i int) {
		ps := c.packs[ids[i]]
		n, damage, err := c.readPack(ctx, ps)
		switch {
		case err != nil && ctx.Err() == nil && readFailure(err):
			c.unreadable(ps.name(), "it", err)
		case err != nil && ctx.Err() == nil:
			c.packProblem(ps, PackData, "read: "+err.Error())
		case damage != "":
			c.packProblem(ps, PackData, damage)
		}
		c.mu.Lock()
		c.res.PacksRead++
		c.res.BytesRead += n
		c.mu.Unlock()
		if c.opt.Progress != nil {
			c.opt.Progress(int(done.Add(1)), len(ids))
		}
	})
	return ctx.Err()
}

// readPack reads one pack in windows, hashing every byte and opening
// every indexed blob. The blobs that do not open are marked bad on ps, and
// damage says what is wrong ("" for an intact pack); the error is for a
// pack that could not be read to its end.
func (c *checker) readPack(ctx context.Context, ps *packState) (n int64, damage string, err error) {
	sp := c.stored[ps.pack.ID]
	name := ps.name()
	blobs := append([]index.Blob(nil), ps.pack.Blobs...)
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].Offset < blobs[j].Offset })
	h := b3.New()
	var buf []byte
	var bufOff, end int64 // buf holds [bufOff, end); end is how far we read
	fill := func(upTo int64) error {
		for end < upTo {
			n := max(upTo-end, readWindow)
			n = min(n, sp.Size-end)
			b, err := c.r.Backend().Load(ctx, name, end, n)
			if err != nil {
				if errors.Is(err, backends.ErrRange) {
					return errShort
				}
				return err
			}
			h.Write(b)
			buf = append(buf, b...)
			end += n
		}
		return nil
	}
	var damaged []string
	for _, b := range blobs {
		from, to := int64(b.Offset), int64(b.Offset)+int64(b.Length)
		if to > sp.Size {
			continue // reported with the header
		}
		if from > bufOff {
			drop := min(from, end) - bufOff
			buf = buf[drop:]
			bufOff += drop
		}
		if err := fill(to); err != nil {
			return end, "", err
		}
		stored := buf[from-bufOff : to-bufOff]
		if _, err := c.r.Codec().Open(nil, b.Type, b.ID, stored, int(b.RawLength)); err != nil {
			c.mu.Lock()
			if ps.bad == nil {
				ps.bad = map[id.ID]bool{}
			}
			ps.bad[b.ID] = true
			c.mu.Unlock()
			damaged = append(damaged, err.Error())
		}
	}
	buf = nil
	if err := fill(sp.Size); err != nil {
		return end, "", err
	}
	var sum id.ID
	h.Sum(sum[:0])
	var msgs []string
	if sum != ps.pack.ID {
		msgs = append(msgs, "content does not match its name")
	}
	if len(damaged) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %s damaged (%s)", len(damaged), count(len(blobs), "blob"), strings.Join(damaged, "; ")))
	}
	return end, strings.Join(msgs, "; "), nil
}
