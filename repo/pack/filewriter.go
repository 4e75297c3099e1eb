package pack

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/b3"
)

// FileWriter builds a pack in a file instead of memory. Its ID is the hash
// VerifyFile computes as it reads the pack back: not hashed here, where
// the caller (the Saver) holds its lock. The file is the caller's: it is
// neither closed nor removed here.
type FileWriter struct {
	Type    id.BlobType
	f       *os.File
	buf     []byte // small blobs gathered for one write; from bufpool
	err     error  // the first failed write: every later one fails with it
	size    int64
	entries []Entry
}

// gather is the size of a FileWriter's buffer. A blob of at least half of
// it (most chunks of a file) is written as it is, not copied; smaller
// ones are gathered. The buffer comes from bufpool and goes back there
// when the pack is finished: a fresh megabyte for each of the sixty packs
// of a 2 GiB ingest was a tenth of the memory it allocated.
const gather = 1 << 20

// NewFileWriter starts a pack of type t in the empty file f.
func NewFileWriter(t id.BlobType, f *os.File) *FileWriter {
	return &FileWriter{Type: t, f: f}
}

// File is the file the pack is written to.
func (w *FileWriter) File() *os.File { return w.f }

// Size is the number of blob bytes written so far.
func (w *FileWriter) Size() int64 { return w.size }

// Count is the number of blobs written so far.
func (w *FileWriter) Count() int { return len(w.entries) }

// write appends b to the file: at once when it is large, else through the
// buffer. After a failed write the file no longer matches the entries, so
// that error sticks.
func (w *FileWriter) write(b []byte) error {
	direct := len(b) >= gather/2
	if direct || len(w.buf)+len(b) > gather {
		w.flush()
	}
	if w.err != nil {
		return w.err
	}
	if direct {
		_, w.err = w.f.Write(b)
		return w.err
	}
	if w.buf == nil {
		w.buf = bufpool.Get(gather)[:0]
	}
	w.buf = append(w.buf, b...)
	return nil
}

func (w *FileWriter) flush() error {
	if w.err == nil && len(w.buf) > 0 {
		_, w.err = w.f.Write(w.buf)
	}
	w.buf = w.buf[:0]
	return w.err
}

// AddSealed appends a blob sealed by Codec.Seal or SealPooled.
func (w *FileWriter) AddSealed(bid id.ID, stored []byte, rawLen int) error {
	if w.size+int64(len(stored)) > 1<<32-1 {
		return fmt.Errorf("pack would pass 4 GiB")
	}
	w.entries = append(w.entries, Entry{Type: w.Type, ID: bid, Offset: uint32(w.size), Length: uint32(len(stored)), RawLength: uint32(rawLen)})
	w.size += int64(len(stored))
	return w.write(stored)
}

// Finish writes the sealed header and trailer and returns the pack's total
// size. The file then holds exactly the pack.
func (w *FileWriter) Finish(k *crypto.Key) (int64, error) {
	sealed := k.Seal(nil, EncodeHeader(w.entries), headerAD)
	sealed = binary.LittleEndian.AppendUint32(sealed, uint32(len(sealed)))
	sealed = append(sealed, trailerMagic...)
	err := w.write(sealed)
	if err == nil {
		err = w.flush()
	}
	if w.buf != nil {
		bufpool.Put(w.buf)
		w.buf = nil
	}
	if err != nil {
		return 0, err
	}
	return w.size + int64(len(sealed)), nil
}

// VerifyFile re-reads a finished pack from r (size bytes) as a reader
// would: trailer, header, and every blob opened and re-hashed, one blob in
// memory at a time. It is the verify-before-write step for file packs. It
// returns the pack's ID, the hash of every byte it read: the header's
// blobs lie end to end from the start (DecodeHeader checks), so reading
// them in order and then the header and trailer reads the whole file.
func VerifyFile(c *Codec, r io.ReaderAt, size int64) (id.ID, []Entry, error) {
	if size < TrailerSize {
		return id.Zero, nil, fmt.Errorf("pack of %d bytes: %w", size, ErrCorrupt)
	}
	var trailer [TrailerSize]byte
	if _, err := r.ReadAt(trailer[:], size-TrailerSize); err != nil {
		return id.Zero, nil, err
	}
	hl, err := ParseTrailer(trailer[:], size)
	if err != nil {
		return id.Zero, nil, err
	}
	tail := make([]byte, hl+TrailerSize)
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil {
		return id.Zero, nil, err
	}
	entries, err := ReadHeader(c.Key, tail, size)
	if err != nil {
		return id.Zero, nil, err
	}
	h := b3.New()
	for _, e := range entries {
		stored := bufpool.Get(int(e.Length))[:e.Length]
		if _, err := r.ReadAt(stored, int64(e.Offset)); err != nil {
			bufpool.Put(stored)
			return id.Zero, nil, err
		}
		h.Write(stored)
		// Decrypted in place: stored is not needed after.
		plain, err := c.OpenOwned(bufpool.Get(int(e.RawLength)), e.Type, e.ID, stored, int(e.RawLength))
		bufpool.Put(stored)
		if err != nil {
			return id.Zero, nil, err
		}
		bufpool.Put(plain)
	}
	h.Write(tail)
	var pid id.ID
	h.Sum(pid[:0])
	return pid, entries, nil
}
