package pack

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
)

// FileWriter builds a pack in a file instead of memory, hashing its bytes
// as they go by so the pack's ID needs no second pass. The file is the
// caller's: it is neither closed nor removed here.
type FileWriter struct {
	Type    id.BlobType
	f       *os.File
	bw      *bufio.Writer
	hash    *blake3.Hasher
	size    int64
	entries []Entry
}

// NewFileWriter starts a pack of type t in the empty file f.
func NewFileWriter(t id.BlobType, f *os.File) *FileWriter {
	return &FileWriter{Type: t, f: f, bw: bufio.NewWriterSize(f, 1<<20), hash: blake3.New()}
}

// File is the file the pack is written to.
func (w *FileWriter) File() *os.File { return w.f }

// Size is the number of blob bytes written so far.
func (w *FileWriter) Size() int64 { return w.size }

// Count is the number of blobs written so far.
func (w *FileWriter) Count() int { return len(w.entries) }

func (w *FileWriter) write(b []byte) error {
	w.hash.Write(b)
	_, err := w.bw.Write(b)
	return err
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

// Finish writes the sealed header and trailer and returns the pack's ID and
// total size. The file then holds exactly the pack.
func (w *FileWriter) Finish(k *crypto.Key) (id.ID, int64, error) {
	sealed := k.Seal(nil, EncodeHeader(w.entries), headerAD)
	sealed = binary.LittleEndian.AppendUint32(sealed, uint32(len(sealed)))
	sealed = append(sealed, trailerMagic...)
	if err := w.write(sealed); err != nil {
		return id.Zero, 0, err
	}
	if err := w.bw.Flush(); err != nil {
		return id.Zero, 0, err
	}
	var pid id.ID
	w.hash.Sum(pid[:0])
	return pid, w.size + int64(len(sealed)), nil
}

// VerifyFile re-reads a finished pack from r (size bytes) as a reader
// would: trailer, header, and every blob opened and re-hashed, one blob in
// memory at a time. It is the verify-before-write step for file packs.
func VerifyFile(c *Codec, r io.ReaderAt, size int64) ([]Entry, error) {
	if size < TrailerSize {
		return nil, fmt.Errorf("pack of %d bytes: %w", size, ErrCorrupt)
	}
	var trailer [TrailerSize]byte
	if _, err := r.ReadAt(trailer[:], size-TrailerSize); err != nil {
		return nil, err
	}
	hl, err := ParseTrailer(trailer[:], size)
	if err != nil {
		return nil, err
	}
	tail := make([]byte, hl+TrailerSize)
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil {
		return nil, err
	}
	entries, err := ReadHeader(c.Key, tail, size)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		stored := bufpool.Get(int(e.Length))[:e.Length]
		if _, err := r.ReadAt(stored, int64(e.Offset)); err != nil {
			bufpool.Put(stored)
			return nil, err
		}
		// Decrypted in place: stored is not needed after.
		plain, err := c.OpenOwned(bufpool.Get(int(e.RawLength)), e.Type, e.ID, stored, int(e.RawLength))
		bufpool.Put(stored)
		if err != nil {
			return nil, err
		}
		bufpool.Put(plain)
	}
	return entries, nil
}
