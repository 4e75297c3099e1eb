package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// manifest describes every entry of a tree: everything a backup must
// reproduce, except inode numbers (hardlinks are shown by group leader).
func manifest(t *testing.T, root string) (map[string]string, map[string]int) {
	t.Helper()
	type ent struct {
		line string
		ino  uint64
		typ  string
	}
	ents := map[string]*ent{}
	types := map[string]int{}
	err := filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			return err
		}
		typ := map[uint32]string{
			syscall.S_IFREG: "file", syscall.S_IFDIR: "dir", syscall.S_IFLNK: "symlink", syscall.S_IFIFO: "fifo",
			syscall.S_IFSOCK: "socket", syscall.S_IFCHR: "char", syscall.S_IFBLK: "block",
		}[st.Mode&syscall.S_IFMT]
		types[typ]++
		var extra string
		switch typ {
		case "file":
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			extra = hex.EncodeToString(h.Sum(nil))
			if st.Blocks*512 < st.Size {
				types["sparse"]++
			}
			buf := make([]byte, 1024)
			if n, err := syscall.Listxattr(path, buf); err == nil && n > 0 {
				types["xattr"]++
				extra += " xattrs=" + strings.ReplaceAll(string(buf[:n]), "\x00", ",")
			}
		case "symlink":
			extra, err = os.Readlink(path)
			if err != nil {
				return err
			}
		case "char", "block":
			extra = fmt.Sprint(st.Rdev)
		case "dir":
			if d, err := os.ReadDir(path); err == nil && len(d) == 0 {
				types["empty-dir"]++
			}
		}
		if typ != "file" {
			st.Size = 0
		}
		ents[rel] = &ent{
			line: fmt.Sprintf("%s %o %d:%d %d %d.%09d %q", typ, st.Mode&0o7777, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec, extra),
			ino:  st.Ino, typ: typ,
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Hardlink groups, named by their first path.
	groups := map[uint64][]string{}
	for rel, e := range ents {
		if e.typ != "dir" {
			groups[e.ino] = append(groups[e.ino], rel)
		}
	}
	out := map[string]string{}
	for rel, e := range ents {
		out[rel] = e.line
	}
	for _, g := range groups {
		if len(g) > 1 {
			types["hardlink-group"]++
			sort.Strings(g)
			for _, rel := range g {
				out[rel] += " link=" + g[0]
			}
		}
	}
	return out, types
}

func gen(t *testing.T, size int64, seed uint64, workers int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "corpus")
	st, err := generate(options{out: dir, size: size, seed: seed, workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	if st.bytes < size*9/10 || st.bytes > size*11/10 {
		t.Errorf("wrote %d bytes, want about %d", st.bytes, size)
	}
	for _, n := range st.notes {
		t.Logf("note: %s", n)
	}
	return dir
}

func TestDeterministicWithEveryFileType(t *testing.T) {
	const size = 8 << 20
	a := gen(t, size, 1, 1)
	b := gen(t, size, 1, 4) // the worker count must not matter
	ma, types := manifest(t, a)
	mb, _ := manifest(t, b)
	if len(ma) != len(mb) {
		t.Errorf("%d entries, then %d", len(ma), len(mb))
	}
	diffs := 0
	for rel, la := range ma {
		if lb := mb[rel]; la != lb && diffs < 10 {
			diffs++
			t.Errorf("%q differs:\n  %s\n  %s", rel, la, lb)
		}
	}
	for rel := range mb {
		if _, ok := ma[rel]; !ok && diffs < 10 {
			diffs++
			t.Errorf("%q only in the second corpus", rel)
		}
	}

	want := map[string]int{
		"file": 100, "dir": 10, "empty-dir": 3, "symlink": 5, "hardlink-group": 2,
		"fifo": 1, "socket": 1, "sparse": 1, "xattr": 1,
	}
	if os.Geteuid() == 0 {
		want["char"], want["block"] = 2, 2
	}
	for k, n := range want {
		if types[k] < n {
			t.Errorf("%d %s entries, want at least %d", types[k], k, n)
		}
	}
	t.Logf("entry types: %v", types)

	// A different seed gives a different corpus.
	mc, _ := manifest(t, gen(t, size, 2, 2))
	same := 0
	for rel, l := range mc {
		if ma[rel] == l && strings.HasPrefix(l, "file") {
			same++
		}
	}
	if same > len(mc)/10 {
		t.Errorf("seed 2 shares %d of %d entries with seed 1", same, len(mc))
	}
}

func TestParseSizeWantsAMebibyte(t *testing.T) {
	if v, err := parseSize("2GiB"); err != nil || v != 2<<30 {
		t.Errorf("parseSize(2GiB) = %d, %v", v, err)
	}
	for _, in := range []string{"1KiB", "abc"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
}
