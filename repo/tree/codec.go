package tree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-backup/cairn/repo/id"
)

// A tree blob is "CRNT", a format byte (1), a uvarint node count, then each
// node as a uvarint length followed by that many bytes of fields. A field is
// uvarint tag, uvarint length, value. Integers are uvarints (times are
// zigzag varints). Unknown tags are skipped, so fields can be added without
// breaking old readers; a change old readers must not ignore bumps the
// format byte. Nodes are sorted by name, bytewise, and names are unique.
const (
	treeMagic  = "CRNT"
	treeFormat = 1
)

// Field tags.
const (
	tagName       = 1
	tagKind       = 2
	tagMode       = 3
	tagUID        = 4
	tagGID        = 5
	tagUser       = 6
	tagGroup      = 7
	tagMTime      = 8
	tagATime      = 9
	tagCTime      = 10
	tagSize       = 11
	tagDev        = 12
	tagInode      = 13
	tagLinks      = 14
	tagDevMajor   = 15
	tagDevMinor   = 16
	tagLinkTarget = 17
	tagXattr      = 18 // repeated: uvarint name length, name, value
	tagContent    = 19 // chunks: uvarint size, byte kind (0 data, 1 hole), 32-byte ID for data
	tagSubtree    = 20
	tagIncomplete = 21 // directories: uvarint 1, present only when set
	tagFlags      = 22 // inode flags (chattr), present only when non-zero
)

// ErrCorrupt is returned for tree bytes that do not decode.
var ErrCorrupt = errors.New("corrupt tree")

// ValidName reports whether name can be a directory entry: not empty, not
// "." or "..", no "/" and no NUL. Decoding refuses other names so a damaged
// or malicious tree cannot make restore write outside its target.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// Sort orders nodes by name, as Encode requires.
func Sort(nodes []*Node) {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
}

// Encode writes nodes (sorted by name, unique) as a tree blob.
func Encode(nodes []*Node) ([]byte, error) {
	b := make([]byte, 0, 64+len(nodes)*160)
	b = append(b, treeMagic...)
	b = append(b, treeFormat)
	b = binary.AppendUvarint(b, uint64(len(nodes)))
	var nb []byte
	for i, n := range nodes {
		if !ValidName(n.Name) {
			return nil, fmt.Errorf("encode tree: invalid name %q", n.Name)
		}
		if i > 0 && nodes[i-1].Name >= n.Name {
			return nil, fmt.Errorf("encode tree: names not sorted and unique at %q", n.Name)
		}
		nb = encodeNode(nb[:0], n)
		b = binary.AppendUvarint(b, uint64(len(nb)))
		b = append(b, nb...)
	}
	return b, nil
}

func putBytes(b []byte, tag uint64, v string) []byte {
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func putUint(b []byte, tag, v uint64) []byte {
	if v == 0 {
		return b
	}
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], v)
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, tmp[:n]...)
}

func putInt(b []byte, tag uint64, v int64) []byte {
	if v == 0 {
		return b
	}
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutVarint(tmp[:], v)
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, tmp[:n]...)
}

func encodeNode(b []byte, n *Node) []byte {
	b = putBytes(b, tagName, n.Name)
	b = putUint(b, tagKind, uint64(n.Kind))
	b = putUint(b, tagMode, uint64(n.Mode))
	b = putUint(b, tagUID, uint64(n.UID))
	b = putUint(b, tagGID, uint64(n.GID))
	if n.User != "" {
		b = putBytes(b, tagUser, n.User)
	}
	if n.Group != "" {
		b = putBytes(b, tagGroup, n.Group)
	}
	b = putInt(b, tagMTime, n.MTime)
	b = putInt(b, tagATime, n.ATime)
	b = putInt(b, tagCTime, n.CTime)
	b = putUint(b, tagSize, n.Size)
	b = putUint(b, tagDev, n.Dev)
	b = putUint(b, tagInode, n.Inode)
	b = putUint(b, tagLinks, uint64(n.Links))
	b = putUint(b, tagDevMajor, uint64(n.DevMajor))
	b = putUint(b, tagDevMinor, uint64(n.DevMinor))
	if n.Kind == KindSymlink {
		b = putBytes(b, tagLinkTarget, n.LinkTarget)
	}
	for _, x := range n.Xattrs {
		v := binary.AppendUvarint(nil, uint64(len(x.Name)))
		v = append(v, x.Name...)
		v = append(v, x.Value...)
		b = putBytes(b, tagXattr, string(v))
	}
	if len(n.Content) > 0 {
		v := make([]byte, 0, len(n.Content)*(32+2+binary.MaxVarintLen64))
		for _, c := range n.Content {
			v = binary.AppendUvarint(v, c.Size)
			if c.Hole {
				v = append(v, 1)
			} else {
				v = append(v, 0)
				v = append(v, c.ID[:]...)
			}
		}
		b = putBytes(b, tagContent, string(v))
	}
	if n.Kind == KindDir {
		b = putBytes(b, tagSubtree, string(n.Subtree[:]))
	}
	if n.Incomplete {
		b = putUint(b, tagIncomplete, 1)
	}
	b = putUint(b, tagFlags, uint64(n.Flags))
	return b
}

// Decode parses a tree blob. A node that does not decode (an invalid
// name, an unknown kind...), or names not sorted and unique, fail the
// whole tree: check uses this.
func Decode(b []byte) ([]*Node, error) {
	nodes, bad, order, err := decodeTree(b)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, bad[0]
	}
	if order != nil {
		return nil, order
	}
	return nodes, nil
}

// DecodePartial parses a tree blob, leaving out each node that does not
// decode on its own (or repeats an earlier node's name) while the blob's
// framing holds, and returning an error (wrapping ErrCorrupt) for each
// node left out: restore, dump and mount show the rest of the folder. A
// node out of name order costs nothing: the nodes come back sorted and
// unique, as the mount's lookups need them, so that one entry out of
// place does not lose every entry after it. err is for a blob that does
// not parse at all.
func DecodePartial(b []byte) (nodes []*Node, bad []error, err error) {
	nodes, bad, _, err = decodeTree(b)
	return nodes, bad, err
}

// decodeTree parses a tree blob: the nodes that decode, sorted by name
// with the later of a repeated name left out; bad, an error for each node
// left out; order, an error when the blob's names are not
// sorted and unique; err, for a blob that does not parse at all.
func decodeTree(b []byte) (nodes []*Node, bad []error, order error, err error) {
	if len(b) < len(treeMagic)+2 || string(b[:4]) != treeMagic {
		return nil, nil, nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if b[4] != treeFormat {
		return nil, nil, nil, fmt.Errorf("%w: tree format %d is newer than this cairn understands", ErrCorrupt, b[4])
	}
	b = b[5:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > uint64(len(b)) {
		return nil, nil, nil, fmt.Errorf("%w: bad node count", ErrCorrupt)
	}
	b = b[k:]
	type decoded struct {
		n *Node
		i uint64
	}
	all := make([]decoded, 0, count)
	for i := uint64(0); i < count; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, nil, nil, fmt.Errorf("%w: node %d truncated", ErrCorrupt, i)
		}
		n, err := decodeNode(b[k : k+int(l)])
		b = b[k+int(l):]
		if err != nil {
			if n.Name != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", n.Name)) {
				err = fmt.Errorf("%q: %v", n.Name, err)
			}
			bad = append(bad, fmt.Errorf("%w: node %d: %v", ErrCorrupt, i, err))
			continue
		}
		if order == nil && len(all) > 0 && all[len(all)-1].n.Name >= n.Name {
			order = fmt.Errorf("%w: names not sorted and unique at %q", ErrCorrupt, n.Name)
		}
		all = append(all, decoded{n, i})
	}
	if len(b) != 0 {
		return nil, nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	if order != nil {
		// A second entry of one name, or one out of order: sorted
		// (stably, so the first of a name is kept) and made unique.
		sort.SliceStable(all, func(x, y int) bool { return all[x].n.Name < all[y].n.Name })
		var dups []decoded
		kept := all[:0]
		for _, d := range all {
			if len(kept) > 0 && kept[len(kept)-1].n.Name == d.n.Name {
				dups = append(dups, d)
				continue
			}
			kept = append(kept, d)
		}
		all = kept
		sort.Slice(dups, func(x, y int) bool { return dups[x].i < dups[y].i })
		for _, d := range dups {
			bad = append(bad, fmt.Errorf("%w: node %d: names not sorted and unique at %q (a second entry of that name)", ErrCorrupt, d.i, d.n.Name))
		}
	}
	nodes = make([]*Node, len(all))
	for i, d := range all {
		nodes[i] = d.n
	}
	return nodes, bad, order, nil
}

// decodeNode decodes one node; on error the node is as far as it got (its
// name, to name it in the error).
func decodeNode(b []byte) (*Node, error) {
	n := &Node{}
	haveSubtree := false
	for len(b) > 0 {
		tag, k := binary.Uvarint(b)
		if k <= 0 {
			return n, errors.New("bad field tag")
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return n, fmt.Errorf("field %d truncated", tag)
		}
		v := b[k : k+int(l)]
		b = b[k+int(l):]
		var err error
		switch tag {
		case tagName:
			n.Name = string(v)
		case tagUser:
			n.User = string(v)
		case tagGroup:
			n.Group = string(v)
		case tagLinkTarget:
			n.LinkTarget = string(v)
		case tagMTime:
			n.MTime, err = fieldInt(v)
		case tagATime:
			n.ATime, err = fieldInt(v)
		case tagCTime:
			n.CTime, err = fieldInt(v)
		case tagXattr:
			var x Xattr
			x, err = decodeXattr(v)
			n.Xattrs = append(n.Xattrs, x)
		case tagContent:
			n.Content, err = decodeContent(v)
		case tagSubtree:
			if len(v) != 32 {
				return n, errors.New("subtree ID is not 32 bytes")
			}
			copy(n.Subtree[:], v)
			haveSubtree = true
		case tagKind, tagMode, tagUID, tagGID, tagSize, tagDev, tagInode, tagLinks, tagDevMajor, tagDevMinor, tagIncomplete, tagFlags:
			var u uint64
			u, err = fieldUint(v)
			err = n.setUint(tag, u, err)
		default:
			// unknown field from a newer writer: skipped by design
		}
		if err != nil {
			return n, fmt.Errorf("field %d: %v", tag, err)
		}
	}
	if !ValidName(n.Name) {
		return n, fmt.Errorf("invalid name %q", n.Name)
	}
	if n.Kind < KindFile || n.Kind > KindSocket {
		return n, fmt.Errorf("%q: unknown kind %d", n.Name, n.Kind)
	}
	if n.Kind == KindDir && !haveSubtree {
		return n, fmt.Errorf("%q: directory without subtree", n.Name)
	}
	if n.Kind == KindFile {
		var sum uint64
		for _, c := range n.Content {
			sum += c.Size
			if sum > 1<<62 {
				return n, fmt.Errorf("%q: content too large", n.Name)
			}
		}
		if sum != n.Size {
			return n, fmt.Errorf("%q: content adds up to %d bytes, size is %d", n.Name, sum, n.Size)
		}
	} else if len(n.Content) > 0 {
		return n, fmt.Errorf("%q: content on a %s", n.Name, n.Kind)
	}
	return n, nil
}

func (n *Node) setUint(tag, u uint64, err error) error {
	if err != nil {
		return err
	}
	fits32 := func(dst *uint32) error {
		if u > 1<<32-1 {
			return errors.New("value too large")
		}
		*dst = uint32(u)
		return nil
	}
	switch tag {
	case tagKind:
		if u > 255 {
			return errors.New("bad kind")
		}
		n.Kind = Kind(u)
	case tagMode:
		if u&^07777 != 0 {
			return errors.New("mode has bits outside 07777")
		}
		n.Mode = uint32(u)
	case tagUID:
		return fits32(&n.UID)
	case tagGID:
		return fits32(&n.GID)
	case tagSize:
		if u > 1<<62 {
			return errors.New("size too large")
		}
		n.Size = u
	case tagDev:
		n.Dev = u
	case tagInode:
		n.Inode = u
	case tagLinks:
		return fits32(&n.Links)
	case tagDevMajor:
		return fits32(&n.DevMajor)
	case tagDevMinor:
		return fits32(&n.DevMinor)
	case tagFlags:
		return fits32(&n.Flags)
	case tagIncomplete:
		if u != 1 {
			return errors.New("incomplete mark is not 1")
		}
		n.Incomplete = true
	}
	return nil
}

func fieldUint(v []byte) (uint64, error) {
	u, k := binary.Uvarint(v)
	if k <= 0 || k != len(v) {
		return 0, errors.New("bad integer")
	}
	return u, nil
}

func fieldInt(v []byte) (int64, error) {
	i, k := binary.Varint(v)
	if k <= 0 || k != len(v) {
		return 0, errors.New("bad integer")
	}
	return i, nil
}

func decodeXattr(v []byte) (Xattr, error) {
	l, k := binary.Uvarint(v)
	if k <= 0 || l == 0 || l > uint64(len(v)-k) {
		return Xattr{}, errors.New("bad xattr name")
	}
	return Xattr{Name: string(v[k : k+int(l)]), Value: bytes.Clone(v[k+int(l):])}, nil
}

func decodeContent(v []byte) ([]Chunk, error) {
	var cs []Chunk
	for len(v) > 0 {
		size, k := binary.Uvarint(v)
		if k <= 0 || k >= len(v) || size > 1<<62 {
			return nil, errors.New("bad chunk size")
		}
		kind := v[k]
		v = v[k+1:]
		switch kind {
		case 1:
			cs = append(cs, Chunk{Size: size, Hole: true})
		case 0:
			if len(v) < 32 {
				return nil, errors.New("chunk ID truncated")
			}
			var c Chunk
			c.Size = size
			copy(c.ID[:], v[:32])
			v = v[32:]
			cs = append(cs, c)
		default:
			return nil, fmt.Errorf("unknown chunk kind %d", kind)
		}
	}
	return cs, nil
}

// Blobs lists the data blob IDs a node's content references, in order.
func (n *Node) Blobs() []id.ID {
	var ids []id.ID
	for _, c := range n.Content {
		if !c.Hole {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// EncodedBlobs calls fn with each data blob ID the content of an encoded
// node (EncodeNode) names, in order, reading nothing else of it, and stops
// when fn returns false. It returns false when fn did or b is malformed as
// far as it read; DecodeNode checks the rest.
func EncodedBlobs(b []byte, fn func(id.ID) bool) bool {
	for len(b) > 0 {
		tag, k := binary.Uvarint(b)
		if k <= 0 {
			return false
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return false
		}
		v := b[k : k+int(l)]
		b = b[k+int(l):]
		if tag != tagContent {
			continue
		}
		for len(v) > 0 {
			size, k := binary.Uvarint(v)
			if k <= 0 || k >= len(v) || size > 1<<62 {
				return false
			}
			kind := v[k]
			v = v[k+1:]
			switch {
			case kind == 1:
			case kind == 0 && len(v) >= 32:
				if !fn(id.ID(v[:32])) {
					return false
				}
				v = v[32:]
			default:
				return false
			}
		}
	}
	return true
}

// EncodeNode encodes one node on its own (the file-change cache keeps
// nodes this way).
func EncodeNode(n *Node) []byte { return encodeNode(nil, n) }

// DecodeNode decodes what EncodeNode wrote.
func DecodeNode(b []byte) (*Node, error) {
	n, err := decodeNode(b)
	if err != nil {
		return nil, err
	}
	return n, nil
}
