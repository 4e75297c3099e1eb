package repo

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

// An index segment's plaintext is "CRNI", a format byte (1), a uvarint pack
// count, and per pack: ID(32), blob type(1), uvarint blob count, then per
// blob ID(32), uvarint offset, uvarint stored length, uvarint raw length.
// After the packs, a uvarint count of superseded segment IDs (32 bytes
// each): a segment written by prune replaces those.
const (
	segmentMagic  = "CRNI"
	segmentFormat = 1
)

// Segment is one decoded index segment.
type Segment struct {
	Packs      []index.Pack
	Supersedes []id.ID
}

// EncodeSegment writes a segment's plaintext.
func EncodeSegment(s *Segment) []byte {
	n := 16
	for _, p := range s.Packs {
		n += 40 + len(p.Blobs)*48
	}
	b := make([]byte, 0, n+len(s.Supersedes)*32)
	b = append(b, segmentMagic...)
	b = append(b, segmentFormat)
	b = binary.AppendUvarint(b, uint64(len(s.Packs)))
	for _, p := range s.Packs {
		b = append(b, p.ID[:]...)
		b = append(b, byte(p.Type))
		b = binary.AppendUvarint(b, uint64(len(p.Blobs)))
		for _, bl := range p.Blobs {
			b = append(b, bl.ID[:]...)
			b = binary.AppendUvarint(b, uint64(bl.Offset))
			b = binary.AppendUvarint(b, uint64(bl.Length))
			b = binary.AppendUvarint(b, uint64(bl.RawLength))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.Supersedes)))
	for _, sid := range s.Supersedes {
		b = append(b, sid[:]...)
	}
	return b
}

type segReader struct {
	b   []byte
	err error
}

func (r *segReader) id() (out id.ID) {
	if r.err != nil {
		return
	}
	if len(r.b) < 32 {
		r.err = fmt.Errorf("truncated ID")
		return
	}
	copy(out[:], r.b)
	r.b = r.b[32:]
	return
}

func (r *segReader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 || v > max {
		r.err = fmt.Errorf("bad number")
		return 0
	}
	r.b = r.b[k:]
	return v
}

// DecodeSegment parses a segment's plaintext.
func DecodeSegment(b []byte) (*Segment, error) {
	if len(b) < 5 || string(b[:4]) != segmentMagic {
		return nil, fmt.Errorf("index segment: bad magic: %w", ErrDamaged)
	}
	if b[4] != segmentFormat {
		return nil, fmt.Errorf("index segment format %d is not supported: %w", b[4], ErrUnsupported)
	}
	r := &segReader{b: b[5:]}
	s := &Segment{}
	np := r.uvarint(uint64(len(b)) / 34)
	for i := uint64(0); i < np && r.err == nil; i++ {
		p := index.Pack{ID: r.id()}
		if len(r.b) < 1 {
			r.err = fmt.Errorf("truncated pack")
			break
		}
		p.Type = id.BlobType(r.b[0])
		r.b = r.b[1:]
		if !p.Type.Valid() {
			r.err = fmt.Errorf("pack %s: unknown blob type %d", p.ID.Short(), p.Type)
			break
		}
		nb := r.uvarint(uint64(len(r.b)) / 35)
		p.Blobs = make([]index.Blob, 0, nb)
		for j := uint64(0); j < nb && r.err == nil; j++ {
			bl := index.Blob{ID: r.id(), Type: p.Type, Pack: p.ID}
			bl.Offset = uint32(r.uvarint(1<<32 - 1))
			bl.Length = uint32(r.uvarint(1<<32 - 1))
			bl.RawLength = uint32(r.uvarint(1<<32 - 1))
			p.Blobs = append(p.Blobs, bl)
		}
		s.Packs = append(s.Packs, p)
	}
	ns := r.uvarint(uint64(len(r.b)) / 32)
	for i := uint64(0); i < ns && r.err == nil; i++ {
		s.Supersedes = append(s.Supersedes, r.id())
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("index segment: %v: %w", r.err, ErrDamaged)
	}
	return s, nil
}

// MaxSegmentBlobs is the most blobs a writer puts in one index segment
// (about 19 MiB), unless one pack holds more: a pack is never split across
// segments. Readers accept segments of any size (see maxObject).
const MaxSegmentBlobs = 500_000

// segmentBlobs is the split size ingest uses: MaxSegmentBlobs, lowered by
// tests.
var segmentBlobs = MaxSegmentBlobs

// SplitSegments groups packs, in their order, into runs of at most max
// blobs each, a pack with more alone in its run. It returns at least one
// run (empty when packs is).
func SplitSegments(packs []index.Pack, max int) [][]index.Pack {
	var runs [][]index.Pack
	var cur []index.Pack
	n := 0
	for _, p := range packs {
		if n > 0 && n+len(p.Blobs) > max {
			runs, cur, n = append(runs, cur), nil, 0
		}
		cur = append(cur, p)
		n += len(p.Blobs)
	}
	return append(runs, cur)
}

// SaveSegment stores a segment and records it in the local index. Like
// SaveSnapshot it refuses (ErrLeaseLost) while a lock taken through r has
// lost its lease: a prune may have deleted the packs the segment names.
func (r *Repository) SaveSegment(ctx context.Context, s *Segment) (id.ID, error) {
	if err := r.checkLeases(); err != nil {
		return id.Zero, fmt.Errorf("index segment not saved: %w", err)
	}
	sid, err := r.saveObject(ctx, kindIndex, EncodeSegment(s))
	if err != nil {
		return sid, err
	}
	if err := r.idx.AddSegmentInfo(sid, index.SegmentInfo{Loaded: true, Supersedes: s.Supersedes}, s.Packs); err != nil {
		if r.cacheWriteRefused(err) {
			// Stored: the next run's SyncIndex reads it. Until then
			// its blobs are unknown here, and stored again if met.
			return sid, nil
		}
		return sid, fmt.Errorf("local index: %w", err)
	}
	return sid, nil
}

// LoadSegment reads and decodes one stored segment.
func (r *Repository) LoadSegment(ctx context.Context, sid id.ID) (*Segment, error) {
	b, err := r.loadObject(ctx, kindIndex, sid)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSegment(b)
	if err != nil {
		return nil, fmt.Errorf("index/%s: %w", sid, err)
	}
	return s, nil
}

// ActiveSegments returns the segments of stored that no other stored
// segment supersedes: the ones a reader should load. supersedes holds the
// Supersedes list of each segment read so far; a segment missing from it
// supersedes nothing as far as this call knows. Only a stored segment
// supersedes: prune lists in its newest segment every segment it read,
// superseded ones included, so an old segment stays hidden until it is
// deleted, whichever of them a crash leaves behind.
func ActiveSegments(stored map[id.ID]bool, supersedes map[id.ID][]id.ID) map[id.ID]bool {
	out := make(map[id.ID]bool, len(stored))
	for sid := range stored {
		out[sid] = true
	}
	for sid, olds := range supersedes {
		if !stored[sid] {
			continue
		}
		for _, old := range olds {
			if old != sid {
				delete(out, old)
			}
		}
	}
	return out
}
