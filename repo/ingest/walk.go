package ingest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/tree"
)

// vdir is the part of the filesystem above and at the ingested paths: the
// snapshot's root mirrors absolute paths, and folders above a given path
// hold only the way down to it (with their real metadata).
type vdir struct {
	children map[string]*vdir
	target   bool // a path given on the command line: taken whole
}

func buildVirtual(paths []string) *vdir {
	root := &vdir{children: map[string]*vdir{}}
	for _, p := range paths {
		v := root
		for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
			if c == "" {
				continue
			}
			if v.children[c] == nil {
				v.children[c] = &vdir{children: map[string]*vdir{}}
			}
			v = v.children[c]
		}
		v.target = true
	}
	return root
}

// dirState collects one directory's nodes. pending counts entries not yet
// done plus one for the listing itself; whoever takes it to zero writes the
// tree blob and reports the directory to its parent.
type dirState struct {
	g       *ingester
	path    string
	node    *tree.Node
	nodes   []*tree.Node
	pending atomic.Int64
	parent  *dirState
	slot    int
	root    int              // depth of the given path this folder is in: excludes match below it
	onDone  func(*tree.Node) // the root's sink
	// incomplete: an entry could not be read, or the folder not listed
	// (tree.Node.Incomplete).
	incomplete atomic.Bool
}

// done records entry slot's node (nil: left out); slot -1 ends the listing.
func (d *dirState) done(slot int, n *tree.Node) {
	if slot >= 0 {
		d.nodes[slot] = n
	}
	if d.pending.Add(-1) == 0 {
		d.finish()
	}
}

func (d *dirState) finish() {
	g := d.g
	d.node.Incomplete = d.incomplete.Load()
	nodes := d.nodes[:0]
	for _, n := range d.nodes {
		if n != nil {
			if n.Kind == tree.KindDir || n.Links <= 1 {
				// The device number only keys hardlink groups (as
				// restic's): a filesystem snapshot mounted anew, an LVM
				// snapshot or a loop image on another loop device, has
				// another one, which must not change every tree.
				n.Dev = 0
			}
			nodes = append(nodes, n)
		}
	}
	tid, err := g.saver.SaveTree(nodes)
	if err != nil {
		g.fail(fmt.Errorf("save tree of %s: %w", d.path, err))
	}
	d.node.Subtree = tid
	d.nodes = nil
	if d.parent != nil {
		old := g.cache.lookup(d.path).node
		switch {
		case old == nil:
			g.counts.dirsNew.Add(1)
		case old.Subtree == tid:
			g.counts.dirsUnchanged.Add(1)
		default:
			g.counts.dirsChanged.Add(1)
		}
		g.cache.record(d.path, d.node)
		g.cache.forgetDir(d.path)
		d.parent.done(d.slot, d.node)
	} else {
		d.onDone(d.node)
	}
}

// ingestPaths walks paths, handing out all the work. The returned channel
// yields the root directory node once every entry is done, which is after
// the workers drain.
func (g *ingester) ingestPaths(paths []string) (<-chan *tree.Node, error) {
	for _, p := range paths {
		if _, err := fsmeta.Lstat(g.fsPath(p)); err != nil {
			return nil, fmt.Errorf("cannot ingest %s: %w", p, err)
		}
	}
	v := buildVirtual(paths)
	rootNode, err := fsmeta.Stat(g.fsPath("/"))
	if err != nil {
		return nil, err
	}
	rootNode.Name = "/"
	result := make(chan *tree.Node, 1)
	root := &dirState{g: g, path: "/", node: rootNode, onDone: func(n *tree.Node) { result <- n }}
	g.walkDir(root, v, v.target, rootNode.Dev)
	g.walkWG.Wait()
	return result, nil
}

// walkDir lists d (all of it, or only the virtual children of v) and hands
// out its entries.
func (g *ingester) walkDir(d *dirState, v *vdir, full bool, dev uint64) {
	var names []string
	var virtual map[string]bool // names walked only as the way down to a given path
	if full {
		names = g.listDir(d, dev, v != nil && v.target)
		if v != nil && len(v.children) > 0 {
			// A path given on the command line below this folder is
			// taken even when --one-file-system or --exclude-caches
			// leaves the folder's other contents out.
			listed := make(map[string]bool, len(names))
			for _, n := range names {
				listed[n] = true
			}
			for n := range v.children {
				if !listed[n] {
					if virtual == nil {
						virtual = map[string]bool{}
					}
					virtual[n] = true
					names = append(names, n)
				}
			}
			if virtual != nil {
				sort.Strings(names)
			}
		}
	} else {
		for n := range v.children {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	d.nodes = make([]*tree.Node, len(names))
	d.pending.Store(int64(len(names)) + 1)
	for i, name := range names {
		if g.ctx.Err() != nil || g.failed() != nil {
			// Stop handing out work; the directory never completes.
			return
		}
		// Inside a given folder everything is walked, but a path given on
		// the command line below it keeps its standing (never excluded,
		// crossed into with --one-file-system).
		var cv *vdir
		if v != nil {
			cv = v.children[name]
		}
		g.walkEntry(filepath.Join(d.path, name), cv, d, i, full && !virtual[name])
	}
	d.done(-1, nil)
}

// listDir returns the names to descend into, applying --one-file-system
// (never to a path given on the command line), --exclude-caches and
// --exclude-if-present: a tagged folder keeps only its tag files, even one
// given on the command line, which is itself never left out (as in
// restic).
func (g *ingester) listDir(d *dirState, parentDev uint64, given bool) []string {
	path := d.path
	if g.opt.OneFileSystem && !given && d.node.Dev != parentDev {
		// A mount point: what is mounted there is not in the snapshot.
		d.incomplete.Store(true)
		return nil
	}
	names, err := fsmeta.ReadDirNames(g.fsPath(path)) // sorted, and leaves atime alone
	if err != nil {
		g.warn(path, err)
		d.incomplete.Store(true)
		return nil
	}
	var keep []string
	for _, t := range g.tagFiles {
		if !slices.Contains(keep, t.Name) && slices.Contains(names, t.Name) && t.in(g.fsPath(path)) {
			keep = append(keep, t.Name)
		}
	}
	if keep != nil {
		// A tagged folder (a cache): its contents are not in the
		// snapshot.
		slices.Sort(keep)
		if len(keep) < len(names) {
			d.incomplete.Store(true)
		}
		return keep
	}
	return names
}

// excluded reports whether path, in a folder given on the command line
// root components deep, is excluded by --exclude or --iexclude.
func (g *ingester) excluded(path string, root int) bool {
	return filter.ExcludedBelow(g.excludes, path, root) ||
		len(g.iexcludes) > 0 && filter.ExcludedBelow(g.iexcludes, strings.ToLower(path), root)
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// TagFile is a file whose presence (starting with Header, when set) marks
// its folder's other contents to be left out.
type TagFile struct {
	Name   string
	Header string
}

// cacheDirTag marks a cache folder (bford.info/cachedir).
var cacheDirTag = TagFile{Name: "CACHEDIR.TAG", Header: "Signature: 8a477f597d28d172789f06886806bc55"}

// ParseTagFiles reads --exclude-if-present values: "name" or
// "name:header".
func ParseTagFiles(specs []string) ([]TagFile, error) {
	var out []TagFile
	for _, s := range specs {
		name, header, _ := strings.Cut(s, ":")
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			return nil, fmt.Errorf("--exclude-if-present %q: give a file name, optionally followed by :header", s)
		}
		out = append(out, TagFile{Name: name, Header: header})
	}
	return out, nil
}

// in reports whether dir, whose listing holds the tag file's name, holds
// the tag file with its header. Without a header the name alone counts,
// whatever the entry is (as restic takes any entry that lstat finds: a
// dangling symlink, or a file the user cannot read). With a header, only a
// regular file counts, opened without blocking: a fifo of that name must
// not hang the ingest.
func (t TagFile) in(dir string) bool {
	if t.Header == "" {
		return true
	}
	f, err := fsmeta.OpenFile(filepath.Join(dir, t.Name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	buf := make([]byte, len(t.Header))
	n, _ := io.ReadFull(f, buf)
	return string(buf[:n]) == t.Header
}

// walkEntry handles one entry of d at slot: a directory is walked now, a
// file goes to the file workers unless the file-change cache vouches for
// it, anything else is done at once.
func (g *ingester) walkEntry(path string, v *vdir, d *dirState, slot int, inFull bool) {
	given := v != nil && v.target
	if inFull && !given && g.excluded(path, d.root) {
		if v == nil {
			d.done(slot, nil)
			return
		}
		// Excluded, but a path given on the command line is below it:
		// keep only the way down to that path.
		inFull = false
	}
	fp := g.fsPath(path)
	n, err := fsmeta.StatNoXattrs(fp)
	if err == nil && fp != path {
		n.Name = filepath.Base(path) // as recorded (--set-path)
	}
	followed := false
	if err == nil && n.Kind == tree.KindSymlink && v != nil && !given && len(v.children) > 0 {
		// A symlink on the way down to a path given on the command line
		// (src/link/sub): the path is reached through it, so it is
		// followed and recorded as the folder it leads to, as restic
		// does, not stored as a link with the given path left out.
		// Only the way down is taken: the folder's other entries are
		// not the link's.
		n, err = statFollow(fp)
		if err == nil {
			n.Name = filepath.Base(path)
		}
		inFull, followed = false, true
	} else if err == nil && n.Kind != tree.KindFile {
		// A file's attributes are read by the file worker, unless the
		// file-change cache vouches for them.
		n.Xattrs, err = fsmeta.Xattrs(fp)
		if err == nil && n.Kind == tree.KindDir && !(g.opt.OneFileSystem && !given && n.Dev != d.node.Dev) {
			// Not for a mount point --one-file-system does not cross:
			// as before flags were kept, it is never opened (which
			// would mount an automount point, or wait on a server
			// that is down). Its flags are the mounted root's anyway.
			n.Flags, err = fsmeta.Flags(fp, tree.KindDir)
		}
	}
	if err != nil {
		g.warn(path, err)
		d.incomplete.Store(true)
		d.done(slot, nil)
		return
	}
	if inFull && !given && n.Kind == tree.KindFile && g.opt.ExcludeLargerThan > 0 && int64(n.Size) > g.opt.ExcludeLargerThan {
		d.incomplete.Store(true)
		d.done(slot, nil)
		return
	}
	g.counts.entries.Add(1)
	g.noticeClamps(path, n)
	if n.Kind != tree.KindDir && n.Links > 1 {
		key := [2]uint64{n.Dev, n.Inode}
		g.linkMu.Lock()
		c := g.linkSeen[key]
		g.linkSeen[key] = [2]uint32{max(c[0], n.Links), c[1] + 1}
		g.linkMu.Unlock()
	}
	switch n.Kind {
	case tree.KindDir:
		child := &dirState{g: g, path: path, node: n, parent: d, slot: slot, root: d.root}
		if followed {
			// Only the way down through the link is taken, not the
			// folder it leads to: what else that holds is not in the
			// snapshot, though the folder may sit inside a given path.
			child.incomplete.Store(true)
		}
		full, dev := inFull, d.node.Dev
		if given {
			child.root = depth(path)
			full, dev = true, n.Dev
		}
		// Folders are walked by a few goroutines at once (lstat and
		// xattr calls dominate an unchanged ingest); when none is free
		// the walker goes on by itself.
		select {
		case g.walkers <- struct{}{}:
			g.walkWG.Add(1)
			go func() {
				defer func() { <-g.walkers; g.walkWG.Done() }()
				g.walkDir(child, v, full, dev)
			}()
		default:
			g.walkDir(child, v, full, dev)
		}
	case tree.KindFile:
		g.counts.files.Add(1)
		g.counts.bytes.Add(int64(n.Size))
		if g.unchangedAtWalk(path, n, d, slot) {
			return
		}
		fj := &fileJob{path: path, node: n, dir: d, slot: slot, done: make(chan struct{})}
		if n.Links > 1 {
			// Registered and queued under one lock, so the first link is
			// always queued before the others that wait for it.
			g.linkMu.Lock()
			defer g.linkMu.Unlock()
			key := [2]uint64{n.Dev, n.Inode}
			if first := g.links[key]; first != nil {
				fj.linkOf = first
			} else {
				g.links[key] = fj
			}
		}
		g.prefetchFile(fj)
		g.files <- fj
	default:
		d.done(slot, n)
	}
}

// statFollow is fsmeta.Stat of what path leads to, named as path.
func statFollow(path string) (*tree.Node, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	n, err := fsmeta.FromStat(path, &st)
	if err != nil {
		return nil, err
	}
	// With a trailing slash, the attributes are those of the folder the
	// link leads to, not of the link.
	n.Xattrs, err = fsmeta.Xattrs(path + "/")
	return n, err
}

// depth counts the components of an absolute path ("/" is 0).
func depth(p string) int {
	return len(strings.FieldsFunc(p, func(r rune) bool { return r == '/' }))
}

// Small new files are read ahead: a file worker reads one file at a time,
// waiting on the disk for each, and the walk runs ahead of the workers by
// the files queued. So as the walk queues a new file of up to
// prefetchMax bytes, one of the prefetchers (goroutines) asks the kernel
// to read it (it does not wait for the data), and the worker finds it in
// memory. A cold first ingest of the benchmark corpus's 21,000 small
// files took 2.7-2.8 s instead of 3.9-4.4 s, and less CPU (fewer threads
// sleeping on the disk and waking). Files the last ingest recorded are
// left alone: most are unchanged and not read at all.
//
// The walk runs up to filesAhead files ahead of the workers, so that
// while they are busy with large files, the small ones further on are
// found and read ahead (a whole ingest of the corpus: 7.3-8.0 s against
// 7.6-8.1 with 64); what was read ahead and not yet read is kept under
// prefetchBudget bytes, so that the page cache holds it until it is used.
const (
	prefetchMax    = 1 << 20
	prefetchers    = 16
	filesAhead     = 2048
	prefetchBudget = 64 << 20
)

func (g *ingester) startPrefetch() (stop func()) {
	g.prefetch = make(chan prefetchJob, filesAhead)
	var wg sync.WaitGroup
	for range prefetchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range g.prefetch {
				fsmeta.Prefetch(g.fsPath(j.path), j.size)
			}
		}()
	}
	return func() { close(g.prefetch); wg.Wait() }
}

type prefetchJob struct {
	path string
	size int64
}

// prefetchFile queues a small new file to be read ahead, unless the
// prefetchers are behind or what was read ahead is at its budget.
func (g *ingester) prefetchFile(fj *fileJob) {
	n := fj.node
	if g.prefetch == nil || n.Size == 0 || n.Size > prefetchMax || g.cache.known(fj.path) {
		return
	}
	size := int64(n.Size)
	if g.prefetched.Add(size) > prefetchBudget {
		g.prefetched.Add(-size)
		return
	}
	select {
	case g.prefetch <- prefetchJob{fj.path, size}:
		fj.prefetched = size
	default:
		g.prefetched.Add(-size)
	}
}
