package testtree

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// builder creates entries under root and records the metadata each should
// end with; finish sets it, deepest paths first. It uses raw system calls
// rather than fsmeta so that a bug in fsmeta cannot hide in both the
// source tree and its copy.
type builder struct {
	tb    testing.TB
	root  string
	rnd   *rand.Rand    // sizes and times
	bytes *rand.ChaCha8 // file content
	metas []*meta
}

// meta is the metadata an entry gets once the whole tree exists.
type meta struct {
	rel          string
	symlink      bool
	uid, gid     uint32
	mode         uint32
	xattrs       []xattr
	atime, mtime int64
}

type xattr struct {
	name  string
	value []byte
}

func newBuilder(tb testing.TB, root string, seed int64) *builder {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], uint64(seed))
	copy(key[8:], "cairn testtree content")
	return &builder{
		tb:    tb,
		root:  root,
		rnd:   rand.New(rand.NewPCG(uint64(seed), 0x636169726e)),
		bytes: rand.NewChaCha8(key),
	}
}

func (b *builder) path(rel string) string { return filepath.Join(b.root, rel) }

// record adds rel's metadata with random nanosecond times between 2001 and
// 2033, and returns it for the caller to adjust.
func (b *builder) record(rel string, mode uint32) *meta {
	m := &meta{rel: rel, mode: mode, mtime: b.randTime(), atime: b.randTime()}
	b.metas = append(b.metas, m)
	return m
}

func (b *builder) randTime() int64 {
	const from, span = 1_000_000_000, 1_000_000_000
	return (from+b.rnd.Int64N(span))*1_000_000_000 + 1 + b.rnd.Int64N(999_999_998)
}

func (b *builder) check(op, rel string, err error) {
	if err != nil {
		b.tb.Helper()
		b.tb.Fatalf("testtree: %s %q: %v", op, rel, err)
	}
}

func (b *builder) dir(rel string) *meta {
	b.check("mkdir", rel, unix.Mkdir(b.path(rel), 0o700))
	return b.record(rel, 0o755)
}

// file creates rel holding content.
func (b *builder) file(rel string, content []byte) *meta {
	b.check("write", rel, os.WriteFile(b.path(rel), content, 0o600))
	return b.record(rel, 0o644)
}

// randFile creates rel holding size random bytes.
func (b *builder) randFile(rel string, size int64) *meta {
	return b.sparse(rel, size, [2]int64{0, size})
}

// sparse creates rel with apparent size size, random data in the given
// {offset, length} regions and holes everywhere else.
func (b *builder) sparse(rel string, size int64, regions ...[2]int64) *meta {
	f, err := os.OpenFile(b.path(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	b.check("create", rel, err)
	buf := make([]byte, 1<<20)
	for _, r := range regions {
		for off, end := r[0], r[0]+r[1]; off < end; {
			n := min(int64(len(buf)), end-off)
			_, _ = b.bytes.Read(buf[:n])
			_, err := f.WriteAt(buf[:n], off)
			b.check("write", rel, err)
			off += n
		}
	}
	b.check("truncate", rel, f.Truncate(size))
	b.check("close", rel, f.Close())
	return b.record(rel, 0o644)
}

func (b *builder) symlink(rel, target string) *meta {
	b.check("symlink", rel, unix.Symlink(target, b.path(rel)))
	m := b.record(rel, 0o777)
	m.symlink = true
	return m
}

func (b *builder) mknod(rel string, typ, major, minor uint32) *meta {
	dev := int(unix.Mkdev(major, minor))
	b.check("mknod", rel, unix.Mknod(b.path(rel), typ|0o600, dev))
	return b.record(rel, 0o644)
}

// link adds newRel as another name of the existing oldRel.
func (b *builder) link(oldRel, newRel string) {
	b.check("link", newRel, os.Link(b.path(oldRel), b.path(newRel)))
}

// setXattrNow sets an attribute at once, for the ones that must exist
// before the rest of the tree (a default ACL that children inherit), and
// records it so finish sets it again after chown.
func (b *builder) setXattrNow(m *meta, name string, value []byte) {
	b.check("lsetxattr "+name, m.rel, unix.Lsetxattr(b.path(m.rel), name, value, 0))
	m.xattrs = append(m.xattrs, xattr{name, value})
}

// finish sets the recorded metadata, children before their directory, in
// the order that sticks: owner, xattrs, mode, times.
func (b *builder) finish() {
	depth := func(m *meta) int {
		if m.rel == "." {
			return -1
		}
		return strings.Count(m.rel, "/")
	}
	slices.SortStableFunc(b.metas, func(x, y *meta) int { return depth(y) - depth(x) })
	for _, m := range b.metas {
		p := b.path(m.rel)
		b.check("lchown", m.rel, unix.Lchown(p, int(m.uid), int(m.gid)))
		for _, x := range m.xattrs {
			b.check("lsetxattr "+x.name, m.rel, unix.Lsetxattr(p, x.name, x.value, 0))
		}
		if !m.symlink {
			b.check("chmod", m.rel, unix.Chmod(p, m.mode))
		}
		ts := []unix.Timespec{unix.NsecToTimespec(m.atime), unix.NsecToTimespec(m.mtime)}
		b.check("utimensat", m.rel, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}
