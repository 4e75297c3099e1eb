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
	"github.com/cairn-backup/cairn/repo/pack"
)

// errShort: a pack read whole ended before its listed size.
var errShort = errors.New("shorter than listed")

// readWindow is how much of a pack one read fetches: packs are read in
// order, a window at a time, so a large pack is never held whole.
var readWindow int64 = 4 << 20 // tests shrink it

// window is one reader's buffers, reused from pack to pack: buf holds the
// pack's bytes from base on, plain a decompressed blob.
type window struct {
	buf   []byte
	base  int64
	plain []byte
}

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
	windows := make(chan *window, c.opt.Workers)
	for range c.opt.Workers {
		windows <- &window{}
	}
	par.Each(ctx, c.opt.Workers, len(ids), func(i int) {
		ps := c.packs[ids[i]]
		w := <-windows
		n, damage, err := c.readPack(ctx, ps, w)
		windows <- w
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
//
// Each blob is decrypted where it was read, after its bytes went into the
// pack's hash, and decompressed into w.plain, so a pack costs no buffers
// beyond w's; w.buf keeps only the part of a window that the next blob
// starts in.
func (c *checker) readPack(ctx context.Context, ps *packState, w *window) (n int64, damage string, err error) {
	sp := c.stored[ps.pack.ID]
	name := ps.name()
	blobs := append([]index.Blob(nil), ps.pack.Blobs...)
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].Offset < blobs[j].Offset })
	h := b3.New()
	w.buf, w.base = w.buf[:0], 0
	var end int64 // how far we read: w.buf holds [w.base, end)
	// fill reads on until upTo, dropping the bytes before keep.
	fill := func(keep, upTo int64) error {
		for end < upTo {
			n := min(max(upTo-end, readWindow), sp.Size-end)
			keep = min(keep, end)
			kept := copy(w.buf, w.buf[keep-w.base:])
			w.buf, w.base = w.buf[:kept], keep
			if need := kept + int(n); cap(w.buf) < need {
				grown := make([]byte, kept, (need+1<<20-1)&^(1<<20-1))
				copy(grown, w.buf)
				w.buf = grown
			}
			next := w.buf[kept : kept+int(n)]
			if err := backends.LoadInto(ctx, c.r.Backend(), name, end, next); err != nil {
				if errors.Is(err, backends.ErrRange) {
					return errShort
				}
				return err
			}
			h.Write(next)
			w.buf = w.buf[:kept+int(n)]
			end += n
		}
		return nil
	}
	var damaged []string
	for i, b := range blobs {
		from, to := int64(b.Offset), int64(b.Offset)+int64(b.Length)
		if to > sp.Size {
			continue // reported with the header
		}
		if err := fill(from, to); err != nil {
			return end, "", err
		}
		stored := w.buf[from-w.base : to-w.base]
		if raw := int(b.RawLength); cap(w.plain) < raw && raw <= pack.MaxBlobSize {
			w.plain = make([]byte, 0, raw)
		}
		// In place, since the stored bytes are hashed already, unless a
		// damaged header or index has the next blob start within this one.
		open := c.r.Codec().OpenInPlace
		if i+1 < len(blobs) && int64(blobs[i+1].Offset) < to {
			open = c.r.Codec().Open
		}
		if _, err := open(w.plain, b.Type, b.ID, stored, int(b.RawLength)); err != nil {
			c.mu.Lock()
			if ps.bad == nil {
				ps.bad = map[id.ID]bool{}
			}
			ps.bad[b.ID] = true
			c.mu.Unlock()
			damaged = append(damaged, err.Error())
		}
	}
	if err := fill(end, sp.Size); err != nil {
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
