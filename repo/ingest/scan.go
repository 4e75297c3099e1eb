package ingest

import (
	"io/fs"
	"path/filepath"
	"syscall"
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
					// What no block holds is a hole, found without reading
					// (a small file may hold its data in its inode).
					if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Size() >= 64<<10 && st.Blocks*512 < fi.Size() {
						g.prog.totalHoles.Add(fi.Size() - st.Blocks*512)
					}
				}
			}
			return nil
		})
	}
	g.prog.scanDone.Store(true)
}
