// Command treecmp compares two directory trees as a backup restore must
// reproduce them, or prints a manifest of one tree.
//
//	treecmp [flags] SOURCE RESTORED   exit 0 if equal, 1 if they differ, 2 on error
//	treecmp -manifest DIR             one line per entry, stable across runs
//
// It compares the set of names, file types, permission and set-id/sticky
// bits, numeric owners, nanosecond mtimes (of files, directories and
// symlinks), file contents byte for byte, symlink targets, device numbers,
// hardlink groups and extended attributes. Sparseness that was lost is
// reported as a note, or as a difference with -sparse. Atime, ctime, inode
// numbers, directory sizes and link counts (which depend on links outside
// the tree) are not compared.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
)

type entry struct {
	rel    string
	typ    string
	perm   uint32 // mode & 07777
	uid    uint32
	gid    uint32
	size   int64
	mtime  syscall.Timespec
	rdev   uint64
	target string
	ino    [2]uint64 // dev, ino
	blocks int64
	xattrs map[string]string
}

func typeOf(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "file"
	case syscall.S_IFDIR:
		return "dir"
	case syscall.S_IFLNK:
		return "symlink"
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	case syscall.S_IFCHR:
		return "char"
	case syscall.S_IFBLK:
		return "block"
	}
	return fmt.Sprintf("mode-%o", mode&syscall.S_IFMT)
}

// scan walks root without following symlinks.
func scan(root string, withXattrs bool) (map[string]*entry, error) {
	out := map[string]*entry{}
	var walk func(rel string) error
	walk = func(rel string) error {
		path := filepath.Join(root, rel)
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: path, Err: err}
		}
		e := &entry{
			rel: rel, typ: typeOf(st.Mode), perm: st.Mode & 0o7777,
			uid: st.Uid, gid: st.Gid, size: st.Size, mtime: st.Mtim,
			ino: [2]uint64{st.Dev, st.Ino}, blocks: st.Blocks,
		}
		switch e.typ {
		case "symlink":
			t, err := os.Readlink(path)
			if err != nil {
				return err
			}
			e.target = t
			e.perm = 0
		case "char", "block":
			e.rdev = st.Rdev
		}
		if e.typ != "file" {
			e.size = 0
		}
		if withXattrs && e.typ != "symlink" {
			x, err := xattrs(path)
			if err != nil {
				return err
			}
			e.xattrs = x
		}
		out[rel] = e
		if e.typ != "dir" {
			return nil
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, d := range ents {
			if err := walk(filepath.Join(rel, d.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(".")
}

func xattrs(path string) (map[string]string, error) {
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Listxattr(path, buf)
		if errors.Is(err, syscall.ERANGE) {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if errors.Is(err, syscall.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, &os.PathError{Op: "listxattr", Path: path, Err: err}
		}
		var m map[string]string
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name == "" {
				continue
			}
			val := make([]byte, 1024)
			for {
				k, err := syscall.Getxattr(path, name, val)
				if errors.Is(err, syscall.ERANGE) {
					val = make([]byte, len(val)*8)
					continue
				}
				if err != nil {
					return nil, &os.PathError{Op: "getxattr " + name, Path: path, Err: err}
				}
				if m == nil {
					m = map[string]string{}
				}
				m[name] = string(val[:k])
				break
			}
		}
		return m, nil
	}
}

func fmtXattrs(m map[string]string) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// linkGroups maps every path that shares its inode with another path to
// the sorted list of that group.
func linkGroups(es map[string]*entry) map[string][]string {
	byIno := map[[2]uint64][]string{}
	for rel, e := range es {
		if e.typ != "dir" {
			byIno[e.ino] = append(byIno[e.ino], rel)
		}
	}
	out := map[string][]string{}
	for _, g := range byIno {
		if len(g) < 2 {
			continue
		}
		sort.Strings(g)
		for _, p := range g {
			out[p] = g
		}
	}
	return out
}

func sortedKeys(m map[string]*entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func main() {
	var (
		manifest = flag.Bool("manifest", false, "print a manifest of one tree instead of comparing")
		mtime    = flag.Bool("mtime", true, "compare mtimes")
		owner    = flag.Bool("owner", true, "compare numeric owners")
		xattr    = flag.Bool("xattr", true, "compare extended attributes")
		sparse   = flag.Bool("sparse", false, "count lost sparseness as a difference (otherwise a note)")
		maxShow  = flag.Int("max", 40, "print at most this many differences")
		known    = flag.String("known-missing", "", "comma-separated types (e.g. socket) whose absence from the restore is a note, not a difference")
	)
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: treecmp [flags] SOURCE RESTORED\n       treecmp -manifest DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *manifest {
		if flag.NArg() != 1 {
			flag.Usage()
			os.Exit(2)
		}
		if err := printManifest(os.Stdout, flag.Arg(0), *xattr); err != nil {
			fmt.Fprintf(os.Stderr, "treecmp: %v\n", err)
			os.Exit(2)
		}
		return
	}
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	c := &comparer{a: flag.Arg(0), b: flag.Arg(1), mtime: *mtime, owner: *owner, xattr: *xattr, sparse: *sparse, max: *maxShow,
		known: map[string]bool{}}
	for _, t := range strings.Split(*known, ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.known[t] = true
		}
	}
	n, err := c.run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "treecmp: %v\n", err)
		os.Exit(2)
	}
	if n > 0 {
		fmt.Printf("treecmp: %d differences between %s and %s (%s)\n", n, c.a, c.b, c.summary())
		os.Exit(1)
	}
	fmt.Printf("treecmp: equal: %d entries, %d bytes of file content compared, %d notes\n", c.entries, c.bytes, c.notes)
}

type comparer struct {
	a, b                        string
	mtime, owner, xattr, sparse bool
	max                         int
	known                       map[string]bool

	shown   int
	count   int
	kinds   map[string]int
	entries int
	bytes   int64
	notes   int
}

func (c *comparer) diff(kind, rel, format string, args ...any) {
	c.count++
	if c.kinds == nil {
		c.kinds = map[string]int{}
	}
	c.kinds[kind]++
	if c.shown < c.max {
		c.shown++
		fmt.Printf("%-9s %q: %s\n", kind, rel, fmt.Sprintf(format, args...))
	} else if c.shown == c.max {
		c.shown++
		fmt.Printf("... more differences not shown\n")
	}
}

func (c *comparer) summary() string {
	var parts []string
	for k, n := range c.kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (c *comparer) run() (int, error) {
	ea, err := scan(c.a, c.xattr)
	if err != nil {
		return 0, err
	}
	eb, err := scan(c.b, c.xattr)
	if err != nil {
		return 0, err
	}
	c.entries = len(ea)
	var same []string // regular files to compare by content
	for _, rel := range sortedKeys(ea) {
		a, b := ea[rel], eb[rel]
		if b == nil {
			if c.known[a.typ] {
				c.notes++
				fmt.Printf("note      %q: %s not in restore (known limitation)\n", rel, a.typ)
			} else {
				c.diff("missing", rel, "%s not in restore", a.typ)
			}
			continue
		}
		if a.typ != b.typ {
			c.diff("type", rel, "%s became %s", a.typ, b.typ)
			continue
		}
		if a.perm != b.perm {
			c.diff("mode", rel, "%04o became %04o", a.perm, b.perm)
		}
		if c.owner && (a.uid != b.uid || a.gid != b.gid) {
			c.diff("owner", rel, "%d:%d became %d:%d", a.uid, a.gid, b.uid, b.gid)
		}
		if c.mtime && a.mtime != b.mtime {
			c.diff("mtime", rel, "%d.%09d became %d.%09d", a.mtime.Sec, a.mtime.Nsec, b.mtime.Sec, b.mtime.Nsec)
		}
		if a.target != b.target {
			c.diff("symlink", rel, "target %q became %q", a.target, b.target)
		}
		if a.rdev != b.rdev {
			c.diff("device", rel, "%d:%d became %d:%d", major(a.rdev), minor(a.rdev), major(b.rdev), minor(b.rdev))
		}
		if c.xattr && fmtXattrs(a.xattrs) != fmtXattrs(b.xattrs) {
			c.diff("xattr", rel, "{%s} became {%s}", fmtXattrs(a.xattrs), fmtXattrs(b.xattrs))
		}
		if a.typ == "file" {
			if a.size != b.size {
				c.diff("content", rel, "size %d became %d", a.size, b.size)
			} else {
				same = append(same, rel)
			}
			if a.blocks*512 < a.size && b.blocks > a.blocks+a.blocks/8+64 {
				if c.sparse {
					c.diff("sparse", rel, "allocated %d bytes, restore allocates %d", a.blocks*512, b.blocks*512)
				} else {
					c.notes++
					fmt.Printf("note      %q: sparse file restored dense (%d bytes allocated, source %d)\n", rel, b.blocks*512, a.blocks*512)
				}
			}
		}
	}
	for _, rel := range sortedKeys(eb) {
		if ea[rel] == nil {
			c.diff("extra", rel, "%s only in restore", eb[rel].typ)
		}
	}
	// Hardlink groups.
	ga, gb := linkGroups(ea), linkGroups(eb)
	for _, rel := range sortedKeys(ea) {
		want, got := strings.Join(ga[rel], " "), strings.Join(gb[rel], " ")
		if eb[rel] != nil && want != got {
			c.diff("hardlink", rel, "linked with [%s], restore links [%s]", want, got)
		}
	}
	// Contents, in parallel.
	type res struct {
		rel string
		off int64
		err error
	}
	jobs := make(chan string)
	results := make(chan res)
	var wg sync.WaitGroup
	for range max(2, runtime.NumCPU()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
			for rel := range jobs {
				off, err := sameContent(filepath.Join(c.a, rel), filepath.Join(c.b, rel), bufA, bufB)
				results <- res{rel, off, err}
			}
		}()
	}
	go func() {
		for _, rel := range same {
			jobs <- rel
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	var bad []res
	for r := range results {
		if r.err != nil || r.off >= 0 {
			bad = append(bad, r)
		}
	}
	for _, rel := range same {
		c.bytes += ea[rel].size
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].rel < bad[j].rel })
	for _, r := range bad {
		if r.err != nil {
			c.diff("content", r.rel, "cannot compare: %v", r.err)
		} else {
			c.diff("content", r.rel, "first difference at byte %d", r.off)
		}
	}
	return c.count, nil
}

func major(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func minor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }

// sameContent returns -1 if the files are equal, else the first differing
// offset.
func sameContent(pa, pb string, bufA, bufB []byte) (int64, error) {
	fa, err := os.Open(pa)
	if err != nil {
		return 0, err
	}
	defer fa.Close()
	fb, err := os.Open(pb)
	if err != nil {
		return 0, err
	}
	defer fb.Close()
	var off int64
	for {
		na, ea := io.ReadFull(fa, bufA)
		nb, eb := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			for i := 0; i < min(na, nb); i++ {
				if bufA[i] != bufB[i] {
					return off + int64(i), nil
				}
			}
			return off + int64(min(na, nb)), nil
		}
		off += int64(na)
		endA := ea == io.EOF || ea == io.ErrUnexpectedEOF
		endB := eb == io.EOF || eb == io.ErrUnexpectedEOF
		if ea != nil && !endA {
			return 0, ea
		}
		if eb != nil && !endB {
			return 0, eb
		}
		if endA || endB {
			if endA != endB {
				return off, nil
			}
			return -1, nil
		}
	}
}

// printManifest prints one line per entry: path, type, mode, owner, size,
// mtime, device, symlink target, sha256 of the content, hardlink group
// leader and extended attributes. Inode numbers are left out, so two
// generations of the same corpus give the same manifest.
func printManifest(w io.Writer, root string, withXattrs bool) error {
	es, err := scan(root, withXattrs)
	if err != nil {
		return err
	}
	groups := linkGroups(es)
	buf := make([]byte, 1<<20)
	for _, rel := range sortedKeys(es) {
		e := es[rel]
		sum := "-"
		if e.typ == "file" {
			f, err := os.Open(filepath.Join(root, rel))
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.CopyBuffer(h, f, buf)
			f.Close()
			if err != nil {
				return err
			}
			sum = hex.EncodeToString(h.Sum(nil))
		}
		leader := "-"
		if g := groups[rel]; g != nil {
			leader = fmt.Sprintf("%q", g[0])
		}
		fmt.Fprintf(w, "%q %s %04o %d:%d %d %d.%09d %d:%d %q %s %s {%s}\n",
			rel, e.typ, e.perm, e.uid, e.gid, e.size, e.mtime.Sec, e.mtime.Nsec,
			major(e.rdev), minor(e.rdev), e.target, sum, leader, fmtXattrs(e.xattrs))
	}
	return nil
}
