package dump

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-backup/cairn/repo/tree"
)

// A file with holes goes into the archive in the GNU PAX sparse format 1.0
// (GNU tar's --sparse --sparse-version=1.0 with --format=posix): a PAX
// extended header naming the file and its apparent size, then a regular
// entry under a stand-in name whose data is the sparse map (decimal text:
// the number of data segments, then each one's offset and length, one
// number a line, padded to a block) followed by the data segments back to
// back. archive/tar's Writer drops GNU.sparse.* records, so these entries
// are written as raw blocks between the ones tw writes.

const block = 512

// hasHole reports whether n's content has a hole.
func hasHole(n *tree.Node) bool {
	for _, c := range n.Content {
		if c.Hole {
			return true
		}
	}
	return false
}

// segment is a run of data in a sparse file.
type segment struct{ off, len uint64 }

// sparseMap is the data segments of n, adjacent data chunks as one. A file
// that ends in a hole (or is all hole) ends with a segment of length 0 at
// its apparent size, as GNU tar writes it, so that the hole is kept.
func sparseMap(n *tree.Node) (segs []segment, data uint64) {
	var off uint64
	for _, c := range n.Content {
		if !c.Hole && c.Size > 0 {
			if k := len(segs) - 1; k >= 0 && segs[k].off+segs[k].len == off {
				segs[k].len += c.Size
			} else {
				segs = append(segs, segment{off, c.Size})
			}
			data += c.Size
		}
		off += c.Size
	}
	if k := len(segs) - 1; k < 0 || segs[k].off+segs[k].len < n.Size {
		segs = append(segs, segment{n.Size, 0})
	}
	return segs, data
}

// sparse writes the file node n, whose content has holes, with the
// attributes h holds, as a PAX sparse 1.0 entry.
func (t *tarWriter) sparse(n *tree.Node, h *tar.Header) error {
	segs, data := sparseMap(n)
	var m strings.Builder
	fmt.Fprintf(&m, "%d\n", len(segs))
	for _, s := range segs {
		fmt.Fprintf(&m, "%d\n%d\n", s.off, s.len)
	}
	smap := pad([]byte(m.String()))
	size := uint64(len(smap)) + data

	recs := map[string]string{}
	for k, v := range h.PAXRecords {
		recs[k] = v
	}
	recs["GNU.sparse.major"] = "1"
	recs["GNU.sparse.minor"] = "0"
	recs["GNU.sparse.name"] = h.Name
	recs["GNU.sparse.realsize"] = strconv.FormatUint(n.Size, 10)
	recs["mtime"] = paxTime(h.ModTime)
	recs["atime"] = paxTime(h.AccessTime)
	recs["ctime"] = paxTime(h.ChangeTime)
	uid, gid := int64(h.Uid), int64(h.Gid)
	if !fitsOctal(uid, 8) {
		recs["uid"], uid = strconv.FormatInt(uid, 10), 0
	}
	if !fitsOctal(gid, 8) {
		recs["gid"], gid = strconv.FormatInt(gid, 10), 0
	}
	uname, gname := h.Uname, h.Gname
	if !fitsString(uname, 32) {
		recs["uname"], uname = uname, ""
	}
	if !fitsString(gname, 32) {
		recs["gname"], gname = gname, ""
	}
	hsize := int64(size)
	if !fitsOctal(hsize, 12) {
		recs["size"], hsize = strconv.FormatUint(size, 10), 0
	}
	mtime := h.ModTime.Unix()
	if !fitsOctal(mtime, 12) {
		mtime = 0 // the mtime record holds it
	}

	dir, base := path.Split(h.Name)
	var x []byte
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		x = append(x, paxRecord(k, recs[k])...)
	}
	xh := ustar{name: dir + "PaxHeaders.0/" + base, mode: h.Mode, size: int64(len(x)), mtime: mtime, typ: tar.TypeXHeader}
	fh := ustar{name: dir + "GNUSparseFile.0/" + base, mode: h.Mode, uid: uid, gid: gid, size: hsize, mtime: mtime,
		typ: tar.TypeReg, uname: uname, gname: gname}

	if err := t.tw.Flush(); err != nil {
		return err
	}
	out := append(xh.block(), pad(x)...)
	out = append(out, fh.block()...)
	out = append(out, smap...)
	if _, err := t.w.Write(out); err != nil {
		return err
	}
	cw := &countWriter{w: t.w}
	z := &zeroed{}
	if err := content(t.ctx, t.r, n, cw, false, z.add); err != nil {
		return err
	}
	z.report(h.Name, t.warn)
	if cw.n != data {
		return fmt.Errorf("%s: wrote %d bytes of data, its chunks hold %d: the archive is broken", h.Name, cw.n, data)
	}
	if r := data % block; r != 0 {
		if _, err := t.w.Write(make([]byte, block-r)); err != nil {
			return err
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n += uint64(k)
	return k, err
}

// pad pads b with NULs to a multiple of the block size.
func pad(b []byte) []byte {
	if r := len(b) % block; r != 0 {
		b = append(b, make([]byte, block-r)...)
	}
	return b
}

// paxRecord is the record "len key=value\n", len counting itself.
func paxRecord(k, v string) string {
	rest := " " + k + "=" + v + "\n"
	n := len(rest) + len(strconv.Itoa(len(rest)))
	if m := len(rest) + len(strconv.Itoa(n)); m > n {
		n = m
	}
	return strconv.Itoa(n) + rest
}

// paxTime is t as PAX writes it: seconds, and a fraction when there is one.
func paxTime(t time.Time) string {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if nsec == 0 {
		return strconv.FormatInt(sec, 10)
	}
	sign := ""
	if sec < 0 {
		sign, sec, nsec = "-", -(sec + 1), 1e9-nsec
	}
	return strings.TrimRight(fmt.Sprintf("%s%d.%09d", sign, sec, nsec), "0")
}

// fitsOctal reports whether v fits a ustar numeric field of n bytes (n-1
// octal digits and a NUL).
func fitsOctal(v int64, n int) bool {
	return v >= 0 && v < int64(1)<<(3*(n-1))
}

// fitsString reports whether s fits a ustar text field of n bytes as
// plain ASCII.
func fitsString(s string, n int) bool {
	if len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ustar is the fields of a ustar header block that these entries use.
type ustar struct {
	name         string
	mode         int64
	uid, gid     int64
	size, mtime  int64
	typ          byte
	uname, gname string
}

// block is u as a 512-byte header block, its name cut to fit.
func (u ustar) block() []byte {
	b := make([]byte, block)
	copy(b[0:100], cutName(u.name, 100))
	octal(b[100:108], u.mode)
	octal(b[108:116], u.uid)
	octal(b[116:124], u.gid)
	octal(b[124:136], u.size)
	octal(b[136:148], u.mtime)
	b[156] = u.typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[265:297], u.uname)
	copy(b[297:329], u.gname)
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:155], fmt.Sprintf("%06o\x00", sum))
	b[155] = ' '
	return b
}

// cutName is name cut to at most n bytes on a UTF-8 character boundary,
// so that the header's name holds no half character for a reader that
// shows or converts it. Bytes that are not UTF-8 are cut where they fall:
// no more than a character's worth is dropped to find a start.
func cutName(name string, n int) string {
	if len(name) <= n {
		return name
	}
	// name[i] starting a character, name[:i] ends one
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(name[i]) {
			return name[:i]
		}
	}
	return name[:n]
}

// octal writes v into the field f as zero-padded octal digits and a NUL.
func octal(f []byte, v int64) {
	copy(f, fmt.Sprintf("%0*o\x00", len(f)-1, v))
}
