package testtree

import (
	"encoding/binary"
	"fmt"
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

// at opens the folder holding rel (O_PATH), one name at a time from
// root, and returns it with rel's last name, so that rel may lie deeper
// than PATH_MAX. The caller closes the folder.
func (b *builder) at(rel string) (int, string) {
	b.tb.Helper()
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(b.root, flags&^unix.O_NOFOLLOW, 0)
	b.check("open", ".", err)
	parts := strings.Split(filepath.Clean(rel), "/")
	for _, name := range parts[:len(parts)-1] {
		sub, err := unix.Openat(fd, name, flags, 0)
		unix.Close(fd)
		b.check("open", rel, err)
		fd = sub
	}
	return fd, parts[len(parts)-1]
}

// proc names rel in its open folder dir, for the xattr calls that have no
// *at form (before Linux 6.13).
func proc(dir int, name string) string { return fmt.Sprintf("/proc/self/fd/%d/%s", dir, name) }

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
	dir, name := b.at(rel)
	defer unix.Close(dir)
	b.check("mkdir", rel, unix.Mkdirat(dir, name, 0o700))
	return b.record(rel, 0o755)
}

// file creates rel holding content.
func (b *builder) file(rel string, content []byte) *meta {
	f := b.create(rel)
	_, err := f.Write(content)
	b.check("write", rel, err)
	b.check("close", rel, f.Close())
	return b.record(rel, 0o644)
}

// randFile creates rel holding size random bytes.
func (b *builder) randFile(rel string, size int64) *meta {
	return b.sparse(rel, size, [2]int64{0, size})
}

// sparse creates rel with apparent size size, random data in the given
// {offset, length} regions and holes everywhere else.
func (b *builder) sparse(rel string, size int64, regions ...[2]int64) *meta {
	f := b.create(rel)
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

// create makes the new regular file rel, for writing.
func (b *builder) create(rel string) *os.File {
	b.tb.Helper()
	dir, name := b.at(rel)
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	b.check("create", rel, err)
	return os.NewFile(uintptr(fd), filepath.Join(b.root, rel))
}

func (b *builder) symlink(rel, target string) *meta {
	dir, name := b.at(rel)
	defer unix.Close(dir)
	b.check("symlink", rel, unix.Symlinkat(target, dir, name))
	m := b.record(rel, 0o777)
	m.symlink = true
	return m
}

func (b *builder) mknod(rel string, typ, major, minor uint32) *meta {
	dev := int(unix.Mkdev(major, minor))
	dir, name := b.at(rel)
	defer unix.Close(dir)
	b.check("mknod", rel, unix.Mknodat(dir, name, typ|0o600, dev))
	return b.record(rel, 0o644)
}

// link adds newRel as another name of the existing oldRel.
func (b *builder) link(oldRel, newRel string) {
	odir, oname := b.at(oldRel)
	defer unix.Close(odir)
	ndir, nname := b.at(newRel)
	defer unix.Close(ndir)
	b.check("link", newRel, unix.Linkat(odir, oname, ndir, nname, 0))
}

// setXattrNow sets an attribute at once, for the ones that must exist
// before the rest of the tree (a default ACL that children inherit), and
// records it so finish sets it again after chown.
func (b *builder) setXattrNow(m *meta, name string, value []byte) {
	dir, base := b.at(m.rel)
	defer unix.Close(dir)
	b.check("lsetxattr "+name, m.rel, unix.Lsetxattr(proc(dir, base), name, value, 0))
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
		dir, name := b.at(m.rel)
		b.check("lchown", m.rel, unix.Fchownat(dir, name, int(m.uid), int(m.gid), unix.AT_SYMLINK_NOFOLLOW))
		for _, x := range m.xattrs {
			b.check("lsetxattr "+x.name, m.rel, unix.Lsetxattr(proc(dir, name), x.name, x.value, 0))
		}
		if !m.symlink {
			b.check("chmod", m.rel, unix.Fchmodat(dir, name, m.mode, 0))
		}
		ts := []unix.Timespec{unix.NsecToTimespec(m.atime), unix.NsecToTimespec(m.mtime)}
		b.check("utimensat", m.rel, unix.UtimesNanoAt(dir, name, ts, unix.AT_SYMLINK_NOFOLLOW))
		unix.Close(dir)
	}
}
