// Package pack encodes blobs and packs.
//
// A stored blob is flags(1) || nonce(24) || XChaCha20-Poly1305 ciphertext ||
// tag(16). Flags bit 0 says the plaintext was zstd-compressed before sealing.
// The additional data binds the blob to its type, flags and ID, so a blob
// cannot be moved under another ID or retyped. A pack is a run of stored
// blobs followed by a sealed header listing them and an 8-byte trailer; see
// docs/FORMAT.md for the byte layout.
package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
)

// Blob flags.
const (
	FlagZstd   byte = 1 << 0
	knownFlags      = FlagZstd
)

// BlobOverhead is what sealing adds to a blob: flags, nonce and tag.
const BlobOverhead = 1 + crypto.Overhead

// MaxBlobSize bounds a blob's plaintext, so a damaged length cannot make a
// reader allocate without limit. Data blobs are at most 8 MiB; tree blobs of
// huge directories are larger.
const MaxBlobSize = 256 << 20

// Errors of blob and pack decoding.
var (
	ErrCorrupt  = errors.New("corrupt data")
	ErrMismatch = errors.New("content does not match its ID")
)

// Codec compresses, seals, opens and verifies blobs with one repository key.
// It is safe for concurrent use.
type Codec struct {
	Key *crypto.Key
	// TypedIDs: tree blob IDs use the tree ID key (see IDFor). Set once,
	// from the repository's config, before use.
	TypedIDs bool
	// The compressor's level is pinned: verify-before-write has been
	// tested against it, and it cannot drift with a library's default.
	enc compressor
	dec *zstd.Decoder
}

// NewCodec builds a codec for key k. It compresses with libzstd in builds
// with cgo, else with the pure-Go encoder; it decodes in pure Go.
func NewCodec(k *crypto.Key) *Codec {
	return &Codec{Key: k, enc: newCompressor(), dec: newDecoder()}
}

func blobAD(t id.BlobType, flags byte, bid id.ID) []byte {
	ad := make([]byte, 0, 2+32)
	ad = append(ad, byte(t), flags)
	return append(ad, bid[:]...)
}

// ID computes the keyed ID of plaintext.
func (c *Codec) ID(plain []byte) id.ID { return c.Key.BlobID(plain) }

// IDFor is the ID of a blob of type t. With TypedIDs (the repository's
// "typed-blob-ids" feature) tree blobs are hashed under a key of their
// own, so a file holding a tree's bytes is a different blob; without it
// every blob's ID is ID.
func (c *Codec) IDFor(t id.BlobType, plain []byte) id.ID {
	if c.TypedIDs && t == id.TreeBlob {
		return c.Key.TreeID(plain)
	}
	return c.Key.BlobID(plain)
}

// Seal appends the stored form of a blob to dst. Compressed data is kept
// only when it is smaller than the plaintext.
func (c *Codec) Seal(dst []byte, t id.BlobType, bid id.ID, plain []byte) []byte {
	b := c.SealPooled(t, bid, plain)
	dst = append(dst, b...)
	bufpool.Put(b)
	return dst
}

// SealPooled returns the stored form of a blob in a buffer from bufpool,
// which the caller hands back with bufpool.Put. Compression writes straight
// into that buffer and encryption happens in place; a blob stored
// uncompressed is encrypted from plain straight into it. So a blob costs
// one buffer and no copies beyond compression.
func (c *Codec) SealPooled(t id.BlobType, bid id.ID, plain []byte) []byte {
	const head = 1 + crypto.NonceSize
	buf := bufpool.Get(head + compressRoom(len(plain)) + crypto.TagSize)[:head]
	var sealed []byte
	if z := c.compressInto(buf[head:head], plain); z == nil {
		// Not copied into buf first and encrypted there: that was a
		// copy of every incompressible byte an ingest stores.
		buf[0] = 0
		sealed = c.Key.Seal(buf[1:1], plain, blobAD(t, 0, bid))
	} else {
		buf[0] = FlagZstd
		if &z[0] != &buf[:head+1][head] {
			buf = append(buf, z...) // compression outgrew the buffer
		} else {
			buf = buf[:head+len(z)]
		}
		sealed = c.Key.SealInPlace(buf[1:], blobAD(t, FlagZstd, bid))
	}
	if &sealed[0] != &buf[1] {
		// The tag did not fit (never, with the room reserved above).
		out := append(bufpool.Get(1+len(sealed)), buf[0])
		bufpool.Put(buf)
		return append(out, sealed...)
	}
	return buf[:1+len(sealed)]
}

// Open authenticates a stored blob, decompresses it and checks that its
// plaintext hashes to bid. rawLen, when not negative, is the plaintext
// length the index promised. The plaintext is appended to dst[:0] when dst
// has room, so callers can reuse buffers.
func (c *Codec) Open(dst []byte, t id.BlobType, bid id.ID, stored []byte, rawLen int) ([]byte, error) {
	return c.open(dst, t, bid, stored, rawLen, false)
}

// OpenInPlace is Open decrypting within stored, which it overwrites: a
// blob stored uncompressed needs no other buffer, and its plaintext is a
// part of stored (dst is not used); a compressed one is decompressed into
// dst as with Open.
func (c *Codec) OpenInPlace(dst []byte, t id.BlobType, bid id.ID, stored []byte, rawLen int) ([]byte, error) {
	return c.open(dst, t, bid, stored, rawLen, true)
}

// OpenOwned is Open for a caller that no longer needs stored, which it
// may overwrite: a compressed blob is decrypted within it, so no buffer is
// taken for that. The plaintext is always in dst's storage (or new), never
// a part of stored.
func (c *Codec) OpenOwned(dst []byte, t id.BlobType, bid id.ID, stored []byte, rawLen int) ([]byte, error) {
	if len(stored) > 0 && stored[0]&FlagZstd != 0 {
		return c.open(dst, t, bid, stored, rawLen, true)
	}
	return c.open(dst, t, bid, stored, rawLen, false)
}

func (c *Codec) open(dst []byte, t id.BlobType, bid id.ID, stored []byte, rawLen int, inPlace bool) ([]byte, error) {
	if len(stored) < BlobOverhead {
		return nil, fmt.Errorf("blob %s: %d bytes is too short: %w", bid.Short(), len(stored), ErrCorrupt)
	}
	if rawLen > MaxBlobSize {
		return nil, fmt.Errorf("blob %s: length %d too large: %w", bid.Short(), rawLen, ErrCorrupt)
	}
	flags := stored[0]
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("blob %s: unknown flags %#x: %w", bid.Short(), flags, ErrCorrupt)
	}
	ad := blobAD(t, flags, bid)
	var plain []byte
	var err error
	// Decrypting in place: the plaintext takes the ciphertext's storage.
	inside := stored[1+crypto.NonceSize:][:0]
	switch {
	case flags&FlagZstd == 0:
		if inPlace {
			dst = inside
		}
		plain, err = c.Key.Open(dst[:0], stored[1:], ad)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", bid.Short(), err)
		}
	default:
		buf := inside
		if !inPlace {
			buf = bufpool.Get(len(stored))
		}
		body, err := c.Key.Open(buf, stored[1:], ad)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", bid.Short(), err)
		}
		plain, err = c.dec.DecodeAll(body, dst[:0])
		if !inPlace {
			bufpool.Put(body)
		}
		if err != nil {
			return nil, fmt.Errorf("blob %s: decompress: %v: %w", bid.Short(), err, ErrCorrupt)
		}
	}
	if rawLen >= 0 && len(plain) != rawLen {
		return nil, fmt.Errorf("blob %s: plaintext is %d bytes, index says %d: %w", bid.Short(), len(plain), rawLen, ErrCorrupt)
	}
	if c.IDFor(t, plain) != bid {
		return nil, fmt.Errorf("blob %s: %w", bid.Short(), ErrMismatch)
	}
	return plain, nil
}

// compressRoom is the room to compress n bytes into: zstd may expand
// incompressible input slightly before we notice, and libzstd takes a new
// buffer when the one it is given lacks that room.
func compressRoom(n int) int { return n + n/128 + 512 }

// compressInto compresses b into buf (reusing its capacity) and returns the
// result, or nil when compression would not make b smaller.
func (c *Codec) compressInto(buf, b []byte) []byte {
	if len(b) < 64 {
		return nil
	}
	if len(b) >= 64<<10 && c.looksIncompressible(buf, b) {
		return nil
	}
	z := c.enc.compress(buf, b)
	if z == nil || len(z) >= len(b) {
		return nil
	}
	return z
}

// seenSlots holds a window every 512 bytes of an 8 MiB chunk, half full.
const seenSlots = 1 << 15

var seenPool = sync.Pool{New: func() any { return new([seenSlots]uint64) }}

// looksIncompressible recognises random or already-compressed chunks
// cheaply, so their compression is skipped. Sampling alone is not enough:
// disk images repeat random blocks within one chunk, which zstd compresses
// well. So a chunk counts as incompressible only when no 32-byte window at
// a multiple of 512 bytes repeats (repeated blocks and zero runs show up
// there, whatever the chunk's alignment) and samples from its start,
// middle and end do not compress.
func (c *Codec) looksIncompressible(buf, b []byte) bool {
	const window = 32
	// Every 512 bytes up to the largest data chunk; beyond that (big tree
	// or index objects) a coarser multiple of 512, so the table stays at
	// most half full.
	stride := 512 * (1 + len(b)/(512*seenSlots/2))
	seen := seenPool.Get().(*[seenSlots]uint64)
	defer seenPool.Put(seen)
	clear(seen[:])
	for o := 0; o+window <= len(b); o += stride {
		w := b[o : o+window]
		h := binary.LittleEndian.Uint64(w)*0x9E3779B97F4A7C15 ^ binary.LittleEndian.Uint64(w[8:])*0xC2B2AE3D27D4EB4F ^
			binary.LittleEndian.Uint64(w[16:])*0x165667B19E3779F9 ^ binary.LittleEndian.Uint64(w[24:])
		h |= 1 // never zero, which marks an empty slot
		for i := h & (seenSlots - 1); ; i = (i + 1) & (seenSlots - 1) {
			if seen[i] == 0 {
				seen[i] = h
				break
			}
			if seen[i] == h {
				return false
			}
		}
	}
	const sample = 4 << 10
	for _, off := range []int{0, len(b)/2 - sample/2, len(b) - sample} {
		if s := c.enc.compress(buf, b[off:off+sample]); s != nil && len(s) < sample-sample/64 {
			return false
		}
	}
	return true
}

// Compress returns the zstd form of b, or nil when it would not make b
// smaller.
func (c *Codec) Compress(b []byte) []byte {
	return c.compressInto(make([]byte, 0, compressRoom(len(b))), b)
}

// Decompress undoes Compress, refusing output past MaxBlobSize.
func (c *Codec) Decompress(z []byte) ([]byte, error) {
	return c.dec.DecodeAll(z, nil)
}
