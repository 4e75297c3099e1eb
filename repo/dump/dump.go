// Package dump writes what a snapshot holds as a stream: one file's
// content, or a folder as a tar archive, for `cairn dump` and pipelines
// such as `cairn dump latest:/app.sql | psql`.
package dump

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

// ahead is how many chunks are read ahead of the one being written, so
// that remote storage's round trips overlap.
const ahead = 8

// File writes the content of the file node n to w: its chunks in order,
// holes as zeros. A chunk that cannot be read ends it with an error that
// names it; what was written before stays written.
func File(ctx context.Context, r *repo.Repository, n *tree.Node, w io.Writer) error {
	if n.Kind != tree.KindFile {
		return fmt.Errorf("%s is not a file", n.Name)
	}
	return content(ctx, r, n, w, true, func(off int64, size uint64, err error) error {
		return fmt.Errorf("%s: cut short at byte %d of %d: %w", n.Name, off, n.Size, err)
	})
}

// SparseFile writes the content of the file node n into f, which must be
// an empty regular file opened for writing and not for appending: as
// File, but a hole is skipped over rather than written as zeros, so that
// f is as sparse as the file was and a large sparse image neither takes
// its apparent size on disk nor the time to write it.
func SparseFile(ctx context.Context, r *repo.Repository, n *tree.Node, f *os.File) error {
	if n.Kind != tree.KindFile {
		return fmt.Errorf("%s is not a file", n.Name)
	}
	lost := func(off int64, size uint64, err error) error {
		return fmt.Errorf("%s: cannot be read from byte %d of %d: %w", n.Name, off, n.Size, err)
	}
	if err := content(ctx, r, n, holeSeeker{f}, true, lost); err != nil {
		return err
	}
	return f.Truncate(int64(n.Size)) // a hole at the end
}

// holeSeeker is a file that content writes holes into by seeking past
// them.
type holeSeeker struct{ *os.File }

// content writes n's content to w, its holes as zeros when holes is true
// and not at all when it is false. A chunk that cannot be read is passed
// to lost with its offset and size: when lost returns nil, the chunk is
// written as zeros and the rest follows; else the write ends with its
// error.
func content(ctx context.Context, r *repo.Repository, n *tree.Node, w io.Writer, holes bool, lost func(off int64, size uint64, err error) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type loaded struct {
		data []byte
		err  error
	}
	// The chunks' results in order; up to ahead of them are loading
	// while the writer waits for the first.
	order := make(chan chan loaded, ahead)
	go func() {
		defer close(order)
		for _, c := range n.Content {
			ch := make(chan loaded, 1)
			select {
			case order <- ch:
			case <-ctx.Done():
				return
			}
			if c.Hole {
				ch <- loaded{}
				continue
			}
			go func() {
				data, err := r.LoadBlob(ctx, id.DataBlob, c.ID, nil)
				ch <- loaded{data, err}
			}()
		}
	}()
	var zeros []byte
	off := int64(0)
	for i, c := range n.Content {
		at := off
		off += int64(c.Size)
		ch, ok := <-order
		if !ok {
			return ctx.Err()
		}
		res := <-ch
		if c.Hole && !holes {
			continue
		}
		if res.err == nil && !c.Hole && uint64(len(res.data)) != c.Size {
			// The output would be shorter or longer than the file (a
			// tar archive's member would not match its header).
			res.err = fmt.Errorf("it is %d bytes, the tree says %d: %w", len(res.data), c.Size, repo.ErrDamaged)
		}
		if res.err != nil {
			if err := lost(at, c.Size, fmt.Errorf("chunk %d (blob %s): %w", i, c.ID.Short(), res.err)); err != nil {
				return err
			}
			c.Hole = true // zeros in its place
		}
		if c.Hole {
			if f, ok := w.(holeSeeker); ok {
				if _, err := f.Seek(int64(c.Size), io.SeekCurrent); err != nil {
					return err
				}
				continue
			}
			if zeros == nil {
				zeros = make([]byte, 1<<20)
			}
			for left := c.Size; left > 0; {
				k := min(left, uint64(len(zeros)))
				if _, err := w.Write(zeros[:k]); err != nil {
					return err
				}
				left -= k
			}
			continue
		}
		if _, err := w.Write(res.data); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotInTar is an entry a tar archive cannot hold (a socket), which Tar
// leaves out and reports through warn.
var ErrNotInTar = errors.New("tar cannot hold it: left out")

// Tar writes n (a folder with everything below it, or a single entry) to w
// as a POSIX tar archive (PAX): modes, numeric owners with their names,
// nanosecond times, extended attributes, POSIX ACLs (as GNU tar writes
// them with --acls), hardlinks, symlinks, devices and fifos. Entries are
// named below name, n's own name in the archive ("" puts a folder's
// entries at the top, as `tar -C dir -c .` does). A file with holes is
// written in the GNU PAX sparse format 1.0, which GNU tar and bsdtar
// extract as a sparse file: only its data is in the archive. A socket,
// which tar cannot hold, is left out.
//
// What cannot be read is passed to warn (so is a socket, with
// ErrNotInTar) and the archive goes on: a chunk
// is written as zeros, a folder whose entries are lost is left empty.
func Tar(ctx context.Context, r *repo.Repository, n *tree.Node, name string, w io.Writer, warn func(p string, err error)) error {
	hw := &holdWriter{w: w}
	t := &tarWriter{ctx: ctx, r: r, w: w, hw: hw, tw: tar.NewWriter(hw), warn: warn, links: map[[2]uint64]string{}}
	if err := t.node(n, name); err != nil {
		return err
	}
	return t.tw.Close()
}

type tarWriter struct {
	ctx   context.Context
	r     *repo.Repository
	w     io.Writer   // under tw, for the entries tw cannot write
	hw    *holdWriter // between tw and w
	tw    *tar.Writer
	warn  func(p string, err error)
	links map[[2]uint64]string // (dev, inode) of a hardlink group -> its first name
}

// writeHeader writes h, marking it when its names are not UTF-8.
//
// archive/tar keeps only the ASCII characters of a name in the ustar
// fields (the whole name goes in a PAX record), so a link target without
// any, such as a symlink to "日本語", leaves the ustar linkname empty.
// libarchive (bsdtar, the tar of the BSDs and macOS) then takes the entry
// for a plain file and extracts an empty file in place of the link. Such
// a header block is amended to hold the target's first bytes, as GNU tar
// writes it: the PAX record still gives the whole target.
func (t *tarWriter) writeHeader(h *tar.Header) error {
	h = binaryNames(h)
	if h.Linkname == "" || hasASCII(h.Linkname) {
		return t.tw.WriteHeader(h)
	}
	t.hw.hold = true
	err := t.tw.WriteHeader(h)
	buf := t.hw.buf
	t.hw.hold, t.hw.buf = false, nil
	if err != nil {
		return err
	}
	if len(buf) >= block {
		b := buf[len(buf)-block:]
		if (b[156] == tar.TypeSymlink || b[156] == tar.TypeLink) && b[157] == 0 {
			copy(b[157:257], cutName(h.Linkname, 100))
			copy(b[148:156], "        ")
			var sum int64
			for _, c := range b {
				sum += int64(c)
			}
			copy(b[148:155], fmt.Sprintf("%06o\x00", sum))
			b[155] = ' '
		}
	}
	_, err = t.w.Write(buf)
	return err
}

// hasASCII reports whether archive/tar keeps any of s in a ustar field:
// whether s holds an ASCII character other than NUL.
func hasASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != 0 && s[i] < 0x80 {
			return true
		}
	}
	return false
}

// holdWriter passes what tw writes on to w, except while hold is set: then
// it keeps it in buf, for writeHeader to amend a header block.
type holdWriter struct {
	w    io.Writer
	hold bool
	buf  []byte
}

func (h *holdWriter) Write(p []byte) (int, error) {
	if h.hold {
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	return h.w.Write(p)
}

// binaryNames adds the PAX record hdrcharset=BINARY to h when a name it
// carries is not valid UTF-8, as POSIX asks: without it, libarchive
// (bsdtar, and the tar of the BSDs and macOS) tries to convert the raw
// name from UTF-8 and refuses the entry. GNU tar takes the bytes either
// way.
func binaryNames(h *tar.Header) *tar.Header {
	for _, s := range []string{h.Name, h.Linkname, h.Uname, h.Gname} {
		if !utf8.ValidString(s) {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["hdrcharset"] = "BINARY"
			break
		}
	}
	return h
}

func (t *tarWriter) node(n *tree.Node, name string) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	h := &tar.Header{
		Name: name, Mode: int64(n.Mode & 0o7777), Uid: int(n.UID), Gid: int(n.GID), Uname: n.User, Gname: n.Group,
		ModTime: time.Unix(0, n.MTime), AccessTime: time.Unix(0, n.ATime), ChangeTime: time.Unix(0, n.CTime),
		Format: tar.FormatPAX,
	}
	for _, x := range n.Xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		rec, ok := aclRecords[x.Name]
		if !ok {
			h.PAXRecords["SCHILY.xattr."+xattrKeyword(x.Name)] = string(x.Value)
			continue
		}
		text, err := aclText(x.Value)
		if err != nil {
			t.warn(name, fmt.Errorf("%s: %w: left out", x.Name, err))
			continue
		}
		h.PAXRecords[rec] = text
	}
	switch n.Kind {
	case tree.KindDir, tree.KindFile, tree.KindSymlink, tree.KindCharDev, tree.KindBlockDev, tree.KindFIFO:
	default:
		// Before the hardlink groups: a name left out must not become
		// the target of another's hardlink entry, which tar could not
		// extract ("Cannot hard link to ...": exit 2).
		t.warn(name, fmt.Errorf("a %s: %w", kindName(n.Kind), ErrNotInTar))
		return nil
	}
	if n.Kind != tree.KindDir && n.Links > 1 {
		key := [2]uint64{n.Dev, n.Inode}
		if first, ok := t.links[key]; ok {
			h.Typeflag, h.Linkname = tar.TypeLink, first
			h.PAXRecords = nil // the first name carries them
			return t.writeHeader(h)
		}
		t.links[key] = name
	}
	switch n.Kind {
	case tree.KindDir:
		if name != "" {
			h.Typeflag, h.Name = tar.TypeDir, name+"/"
			if err := t.writeHeader(h); err != nil {
				return err
			}
		}
		nodes, skipped, err := t.r.LoadTreePartial(t.ctx, n.Subtree)
		if err != nil {
			t.warn(name, fmt.Errorf("folder contents lost: %w", err))
			return nil
		}
		if skipped != nil {
			t.warn(name, fmt.Errorf("entries left out: %w", skipped))
		}
		for _, c := range nodes {
			if err := t.node(c, path.Join(name, c.Name)); err != nil {
				return err
			}
		}
		return nil
	case tree.KindFile:
		if hasHole(n) {
			return t.sparse(n, binaryNames(h))
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(n.Size)
		if err := t.writeHeader(h); err != nil {
			return err
		}
		z := &zeroed{}
		if err := content(t.ctx, t.r, n, t.tw, true, z.add); err != nil {
			return err
		}
		z.report(name, t.warn)
		return nil
	case tree.KindSymlink:
		h.Typeflag, h.Linkname = tar.TypeSymlink, n.LinkTarget
	case tree.KindCharDev, tree.KindBlockDev:
		h.Typeflag = tar.TypeChar
		if n.Kind == tree.KindBlockDev {
			h.Typeflag = tar.TypeBlock
		}
		h.Devmajor, h.Devminor = int64(n.DevMajor), int64(n.DevMinor)
	case tree.KindFIFO:
		h.Typeflag = tar.TypeFifo
	}
	return t.writeHeader(h)
}

// xattrKeyword is an extended attribute's name as GNU tar writes it in a
// SCHILY.xattr record, and reads it back: '%' as "%25" and '=' as "%3D".
// A raw '=' would end the record's keyword, so archive/tar refuses it
// (Linux allows both characters in a name).
func xattrKeyword(name string) string {
	return strings.NewReplacer("%", "%25", "=", "%3D").Replace(name)
}

func kindName(k tree.Kind) string {
	if k == tree.KindSocket {
		return "socket"
	}
	return fmt.Sprintf("node of kind %d", k)
}

// zeroed gathers the chunks of one file that could not be read and went
// into an archive as zeros, to name the file once, not once per chunk.
type zeroed struct {
	chunks int
	bytes  uint64
	off    int64 // the first one's
	first  error
}

func (z *zeroed) add(off int64, size uint64, err error) error {
	if z.chunks == 0 {
		z.off, z.first = off, err
	}
	z.chunks++
	z.bytes += size
	return nil
}

// report passes what was written as zeros to warn, once for the file.
func (z *zeroed) report(name string, warn func(p string, err error)) {
	switch z.chunks {
	case 0:
	case 1:
		warn(name, fmt.Errorf("written with %d bytes of zeros at byte %d: %w", z.bytes, z.off, z.first))
	default:
		warn(name, fmt.Errorf("written with %d bytes of zeros in %d chunks, the first at byte %d: %w", z.bytes, z.chunks, z.off, z.first))
	}
}
