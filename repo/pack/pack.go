package pack

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/b3"
)

// Trailer layout: uint32 little-endian length of the sealed header, then
// the magic "CRN1".
const (
	TrailerSize  = 8
	trailerMagic = "CRN1"
	headerFormat = 1
	// entryMaxSize bounds one encoded header entry: type, ID, two varints.
	entryMaxSize = 1 + 32 + 2*binary.MaxVarintLen64
)

var headerAD = []byte("cairn pack header v1")

// Entry locates one blob inside a pack.
type Entry struct {
	Type      id.BlobType
	ID        id.ID
	Offset    uint32 // from the start of the pack
	Length    uint32 // stored length, flags through tag
	RawLength uint32 // plaintext length
}

// Writer accumulates stored blobs of one type into a pack in memory.
type Writer struct {
	Type    id.BlobType
	buf     []byte
	entries []Entry
}

// NewWriter starts a pack for blobs of type t, with room for sizeHint bytes.
// Ingest builds packs in files (FileWriter); this one serves tests and
// tools that want a pack in memory.
func NewWriter(t id.BlobType, sizeHint int) *Writer {
	return &Writer{Type: t, buf: make([]byte, 0, sizeHint)}
}

// Size is the number of blob bytes written so far.
func (w *Writer) Size() int { return len(w.buf) }

// Count is the number of blobs written so far.
func (w *Writer) Count() int { return len(w.entries) }

// Entries lists the blobs written so far. Offsets are final.
func (w *Writer) Entries() []Entry { return w.entries }

// AddSealed appends a blob sealed by Codec.Seal.
func (w *Writer) AddSealed(bid id.ID, stored []byte, rawLen int) {
	w.entries = append(w.entries, Entry{Type: w.Type, ID: bid, Offset: uint32(len(w.buf)), Length: uint32(len(stored)), RawLength: uint32(rawLen)})
	w.buf = append(w.buf, stored...)
}

// Seal seals plaintext straight into the pack.
func (w *Writer) Seal(c *Codec, bid id.ID, plain []byte) {
	off := len(w.buf)
	w.buf = c.Seal(w.buf, w.Type, bid, plain)
	w.entries = append(w.entries, Entry{Type: w.Type, ID: bid, Offset: uint32(off), Length: uint32(len(w.buf) - off), RawLength: uint32(len(plain))})
}

// Finish appends the sealed header and trailer and returns the pack's bytes
// and ID (the BLAKE3-256 of those bytes). The writer must not be used after.
func (w *Writer) Finish(k *crypto.Key) ([]byte, id.ID) {
	hdr := EncodeHeader(w.entries)
	start := len(w.buf)
	w.buf = k.Seal(w.buf, hdr, headerAD)
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(len(w.buf)-start))
	w.buf = append(w.buf, trailerMagic...)
	return w.buf, id.ID(b3.Sum256(w.buf))
}

// EncodeHeader is the plaintext header: version byte, uvarint count, then
// per blob type(1) ID(32) uvarint stored length, uvarint raw length. Offsets
// are implied: blobs lie back to back from offset 0 in header order.
func EncodeHeader(entries []Entry) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(entries)*entryMaxSize)
	b = append(b, headerFormat)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = append(b, byte(e.Type))
		b = append(b, e.ID[:]...)
		b = binary.AppendUvarint(b, uint64(e.Length))
		b = binary.AppendUvarint(b, uint64(e.RawLength))
	}
	return b
}

// DecodeHeader parses a plaintext header for a pack whose blob area (all
// bytes before the sealed header) is dataLen bytes long. The blobs must
// exactly fill that area.
func DecodeHeader(b []byte, dataLen int64) ([]Entry, error) {
	if len(b) < 2 || b[0] != headerFormat {
		return nil, fmt.Errorf("pack header: unknown format: %w", ErrCorrupt)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b))/(1+32+2) {
		return nil, fmt.Errorf("pack header: bad entry count: %w", ErrCorrupt)
	}
	b = b[k:]
	entries := make([]Entry, 0, n)
	var off uint64
	for i := uint64(0); i < n; i++ {
		if len(b) < 33 {
			return nil, fmt.Errorf("pack header: entry %d truncated: %w", i, ErrCorrupt)
		}
		e := Entry{Type: id.BlobType(b[0])}
		if !e.Type.Valid() {
			return nil, fmt.Errorf("pack header: entry %d: unknown blob type %d: %w", i, b[0], ErrCorrupt)
		}
		copy(e.ID[:], b[1:33])
		b = b[33:]
		l, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return nil, fmt.Errorf("pack header: entry %d length: %w", i, ErrCorrupt)
		}
		b = b[k1:]
		r, k2 := binary.Uvarint(b)
		if k2 <= 0 {
			return nil, fmt.Errorf("pack header: entry %d raw length: %w", i, ErrCorrupt)
		}
		b = b[k2:]
		// Offsets are 32-bit: a blob ending past 4 GiB cannot be described.
		if l < BlobOverhead || l > MaxBlobSize+BlobOverhead || r > MaxBlobSize || off+l > uint64(dataLen) || off+l > math.MaxUint32 {
			return nil, fmt.Errorf("pack header: entry %d: length %d raw %d at offset %d does not fit %d data bytes: %w", i, l, r, off, dataLen, ErrCorrupt)
		}
		e.Offset, e.Length, e.RawLength = uint32(off), uint32(l), uint32(r)
		off += l
		entries = append(entries, e)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("pack header: %d trailing bytes: %w", len(b), ErrCorrupt)
	}
	if off != uint64(dataLen) {
		return nil, fmt.Errorf("pack header: blobs cover %d of %d data bytes: %w", off, dataLen, ErrCorrupt)
	}
	return entries, nil
}

// ParseTrailer reads the last TrailerSize bytes of a pack of packSize bytes
// and returns the sealed header's length.
func ParseTrailer(trailer []byte, packSize int64) (int64, error) {
	if len(trailer) != TrailerSize || string(trailer[4:]) != trailerMagic {
		return 0, fmt.Errorf("pack trailer: bad magic: %w", ErrCorrupt)
	}
	hl := int64(binary.LittleEndian.Uint32(trailer))
	if hl < crypto.Overhead+2 || hl > packSize-TrailerSize {
		return 0, fmt.Errorf("pack trailer: header length %d does not fit pack of %d bytes: %w", hl, packSize, ErrCorrupt)
	}
	return hl, nil
}

// ReadHeader opens the header of a pack given its last tail bytes (at least
// the sealed header and trailer) and the pack's total size.
func ReadHeader(k *crypto.Key, tail []byte, packSize int64) ([]Entry, error) {
	if int64(len(tail)) < TrailerSize || int64(len(tail)) > packSize {
		return nil, fmt.Errorf("pack: %d tail bytes of %d: %w", len(tail), packSize, ErrCorrupt)
	}
	hl, err := ParseTrailer(tail[len(tail)-TrailerSize:], packSize)
	if err != nil {
		return nil, err
	}
	if hl+TrailerSize > int64(len(tail)) {
		return nil, fmt.Errorf("pack: header of %d bytes not within %d tail bytes: %w", hl, len(tail), ErrCorrupt)
	}
	sealed := tail[int64(len(tail))-TrailerSize-hl : len(tail)-TrailerSize]
	hdr, err := k.Open(nil, sealed, headerAD)
	if err != nil {
		return nil, fmt.Errorf("pack header: %w", err)
	}
	return DecodeHeader(hdr, packSize-TrailerSize-hl)
}

// Verify re-reads a finished pack as a reader would: trailer, header, and
// every blob opened and re-hashed. It is the verify-before-write step.
func Verify(c *Codec, data []byte) ([]Entry, error) {
	entries, err := ReadHeader(c.Key, data, int64(len(data)))
	if err != nil {
		return nil, err
	}
	var scratch []byte
	for _, e := range entries {
		p, err := c.Open(scratch, e.Type, e.ID, data[e.Offset:e.Offset+e.Length], int(e.RawLength))
		if err != nil {
			return nil, err
		}
		scratch = p[:0]
	}
	return entries, nil
}

// MaxSealedHeader bounds the sealed header of any pack a writer closes
// once its blobs reach target bytes (the writers add a blob, then close
// the pack when it holds target bytes or more). Before its last blob such
// a pack holds less than target bytes, and every stored blob is at least
// BlobOverhead bytes, so it lists at most target/BlobOverhead+1 blobs, each
// in at most entryMaxSize bytes. Readers refuse a trailer claiming a
// longer header without reading it: a pack planted or grown under data/
// could otherwise make them load and open GiBs.
func MaxSealedHeader(target int64) int64 {
	return crypto.Overhead + 1 + binary.MaxVarintLen64 + (target/BlobOverhead+1)*entryMaxSize
}
