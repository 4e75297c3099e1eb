package fsmeta_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// copyTree copies src into the existing directory dst the way restore
// will: Stat each entry, create it (Create, mkdir, or a hole-keeping file
// copy, or a link to the first name of a hardlink group), then Apply,
// directories after their contents.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	firstName := map[[2]uint64]string{}
	var walk func(rel string)
	walk = func(rel string) {
		s, d := filepath.Join(src, rel), filepath.Join(dst, rel)
		n, err := fsmeta.Stat(s)
		must(t, err)
		if n.Kind != tree.KindDir && n.Links > 1 {
			k := [2]uint64{n.Dev, n.Inode}
			if first, ok := firstName[k]; ok {
				must(t, os.Link(first, d))
				return
			}
			firstName[k] = d
		}
		switch n.Kind {
		case tree.KindDir:
			if rel != "." {
				must(t, unix.Mkdir(d, 0o700))
			}
			names, err := fsmeta.ReadDirNames(s)
			must(t, err)
			for _, name := range names {
				walk(filepath.Join(rel, name))
			}
		case tree.KindFile:
			copyFile(t, s, d, int64(n.Size))
		default:
			must(t, fsmeta.Create(d, n))
		}
		// dst itself existed before: drop whatever xattrs it had.
		must(t, fsmeta.Apply(d, n, fsmeta.ApplyOptions{PruneXattrs: rel == "."}))
	}
	walk(".")
}

// copyFile copies only the data extents of src and leaves the rest holes.
func copyFile(t testing.TB, src, dst string, size int64) {
	in, err := fsmeta.OpenRead(src)
	must(t, err)
	defer in.Close()
	extents, err := fsmeta.DataExtents(in, size)
	must(t, err)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	must(t, err)
	buf := make([]byte, 1<<20)
	for _, e := range extents {
		for off, end := e.Off, e.Off+e.Len; off < end; {
			n, err := in.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
			must(t, err)
			_, err = out.WriteAt(buf[:n], off)
			must(t, err)
			off += int64(n)
		}
	}
	must(t, out.Truncate(size))
	must(t, out.Close())
}
