package ingest

import (
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// scan counts the files and bytes to ingest, concurrently with the ingest,
// so progress can show a percentage and an ETA once it is done.
func (g *ingester) scan(paths []string) {
	for _, p := range paths {
		p = g.fsPath(p)
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if g.ctx.Err() != nil {
				return filepath.SkipAll
			}
			if err != nil {
				return nil
			}
			if path != p && g.excluded(g.recPath(path), depth(g.recPath(p))) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil && (g.opt.ExcludeLargerThan <= 0 || fi.Size() <= g.opt.ExcludeLargerThan || path == p) {
					g.prog.totalFiles.Add(1)
					g.prog.totalBytes.Add(fi.Size())
					if st, ok := fi.Sys().(*syscall.Stat_t); ok {
						g.prog.totalHoles.Add(scanHoles(path, fi.Size(), st.Blocks))
					}
				}
			}
			return nil
		})
	}
	g.prog.scanDone.Store(true)
}

// scanHoles returns the bytes of the file at path (of size bytes and
// blocks 512-byte blocks) that are holes, as the ingest will find them
// (SEEK_DATA and SEEK_HOLE), so the time left leaves them out. Only a file
// of 64 KiB or more that fewer blocks hold than its size (a small one may
// hold its data in its inode) is opened: st_blocks alone is not the holes
// where a filesystem compresses (ZFS counts the compressed blocks, so a
// log that compresses tenfold would look nine-tenths hole) or has not yet
// allocated what was just written, and the time left came out far too
// short. On ext4, XFS, btrfs and tmpfs only sparse files are opened.
func scanHoles(path string, size, blocks int64) int64 {
	if size < 64<<10 || blocks*512 >= size {
		return 0
	}
	f, err := fsmeta.OpenRead(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	extents, err := fsmeta.DataExtents(f, size)
	if err != nil {
		return 0
	}
	holes := size
	for _, e := range extents {
		holes -= e.Len
	}
	return holes
}
