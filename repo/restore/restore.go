// Package restore rebuilds files from a snapshot onto a local filesystem.
//
// The walk creates directories, links and special files, and each regular
// file: at its name when nothing is there and it is small, else under a temporary name in
// its folder (".NAME" + PartialSuffix + random). A file that ends in a hole
// gets its final size at once, so holes stay holes; workers then fetch,
// verify and write each chunk at its offset. When the last chunk lands the
// file is renamed into place if it has a temporary name (over an existing
// file the overwrite policy replaces, which stays untouched until then),
// gets its metadata, and its other hardlinked names are linked to it. A
// file that fails or is stopped half way is removed: nothing incomplete is
// left under a restored file's name. Directories get their metadata last, deepest
// first, so their mtimes are the stored ones. Options.Delete adds a pass
// before that, over the target, that removes what the snapshot lacks
// (delete.go); Options.DryRun walks and decides as a restore does, and
// changes nothing.
package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/bufpool"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/par"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Options describe one restore.
type Options struct {
	Target    string
	Include   []string // restic-style patterns, relative to the snapshot root
	IInclude  []string // the same, matched regardless of case
	Exclude   []string // what not to restore, of what is included
	IExclude  []string // the same, matched regardless of case
	Overwrite Overwrite
	Workers   int
	// ReadPacks reads runs of nearby blobs of a pack with one request
	// each, instead of one request per blob. It is on by itself for
	// remote storage (backends.Parallel).
	ReadPacks bool
	// SkipOwner leaves ownership to the restoring user (set it when not
	// root: chown would fail for every file).
	SkipOwner bool
	Warn      func(path string, err error)
	// Notice hears about paths deliberately left alone (a newer existing
	// file under the default policy). They are not errors.
	Notice func(path, msg string)
	// Verify reads back every file this restore wrote, from the disk
	// (after fdatasync, the page cache dropped), and checks each chunk's
	// hash against the snapshot; a file that differs is an error.
	Verify bool
	// DryRun changes nothing in the target: the walk decides, as it
	// would, what is restored, replaced, kept and (with Delete) deleted,
	// and counts and reports it. Nothing is read from the data packs.
	DryRun bool
	// Delete removes from the target what the snapshot lacks, once the
	// restore is complete: in each folder of the snapshot the restore
	// goes into, every entry the target has there under a name the
	// snapshot's folder does not hold, if the selection (Include,
	// Exclude) covers it. An excluded path is never deleted, nor a
	// folder holding one. A folder where something could not be
	// restored, and every folder above it, keeps all it has; a restore
	// that is stopped deletes nothing. Symlinks are removed, never
	// followed. Delete also lets a folder in the way of a file be
	// replaced, as Always does, unless the policy is Never or the
	// folder holds an excluded path. A restore of a single file deletes
	// nothing.
	Delete bool
	// Item hears about each path as it is done with (or, with DryRun,
	// decided), from any goroutine: what was or would be done, and a
	// regular file's size.
	Item     func(path string, a Action, size uint64)
	Progress func(Progress)
	Interval time.Duration
}

// Progress is a snapshot of the counters.
type Progress struct {
	Elapsed    time.Duration
	FilesDone  int64
	BytesDone  int64
	TotalBytes int64 // grows while the walk runs
	WalkDone   bool
}

// Stats summarise a finished restore.
type Stats struct {
	Files, Dirs, Others, Links int64 // Files: complete and in place
	Bytes                      int64 // of the files in place
	Skipped                    int64 // existing paths kept by the overwrite policy
	SkippedBytes               int64 // of the regular files among them
	// Deleted counts the paths Options.Delete removed (or, with DryRun,
	// would remove), files and folders each.
	Deleted int64
	Errors  int64
	// Stopped counts the files begun but not complete when the restore
	// was stopped: they were removed (an existing file they were to
	// replace is kept), and are not errors.
	Stopped int64
	// Verified counts the files read back and found equal to the
	// snapshot (Options.Verify).
	Verified int64
	// NewDirs counts the folders among Dirs that were not there before
	// (with DryRun, that would be made): the others were there already
	// and only given the snapshot's metadata.
	NewDirs int64
}

// ErrIncomplete: some paths could not be restored; each was reported
// through Warn and the rest was restored.
var ErrIncomplete = errors.New("some paths could not be restored")

type restorer struct {
	ctx  context.Context
	r    *repo.Repository
	opt  Options
	incl *filter.Includer
	// began: when this restore started (Unix ns). A temporary written
	// to since is another restore's, running into the same target.
	began int64
	// paths are the snapshot's paths as recorded (cleaned, absolute),
	// ways the folders strictly above them: see above. Sets, so that a
	// snapshot of many paths (--files-from) costs no more per folder.
	paths, ways map[string]bool
	// leftOut, leftOutI: the snapshot's own exclude patterns (Excludes,
	// IExcludes lowercased), which Delete never deletes what they match.
	leftOut, leftOutI []filter.Pattern
	jobs              chan chunkJob
	runs              chan []located // when reading packs, not blobs
	hungry            chan struct{}  // a run worker found no run waiting
	idle              atomic.Int64   // run workers waiting for a run
	arena             *spanArena     // pack bytes being read, over all run workers
	plain             *bufpool.List  // the run workers' buffers for plaintext
	wg                sync.WaitGroup
	links             map[[2]uint64]*firstName // hardlink groups, by device and inode
	// shared are the existing inodes with several names that decide has
	// seen at a path: a second path to one is not the snapshot's copy,
	// even once a worker has replaced the first and its link count
	// dropped. Walker only.
	shared map[[2]uint64]bool
	// partials: with DryRun, the temporaries of a killed restore that
	// dropPartials would remove (by path in the target), which the
	// delete pass then neither reports nor counts, as the real run,
	// having removed them first, does not.
	partialsMu sync.Mutex
	partials   map[string]bool
	dirs       []dirMeta
	// written are the files in place with all their chunks, for Verify.
	writtenMu sync.Mutex
	written   []*openFile
	// failed are the paths warned about, for Delete: no folder holding
	// one (or above one) loses anything.
	failedMu sync.Mutex
	failed   []string
	// base is where the restored node lands in the target, rel its path
	// in the snapshot: for relOf. root is that node.
	base, baseRel string
	root          *tree.Node
	// groups: where the hardlink groups' names land (groupInPlace).
	groups groupNames
	// fresh: with DryRun, the folder the walk is in would be made new,
	// so nothing in it is there (a symlink in its place may lead to
	// things that are): see lstat.
	fresh bool
	// realTarget is the target with its symlinks resolved; followed,
	// by their path in the target, the symlinks above the snapshot's
	// paths the restore went through, to the folder each leads to in
	// the target (see followAbove). Walker only until the walk is done.
	realTarget string
	followed   map[string]string
	// targetFd is the target's descriptor while inDelete (deletePass),
	// from which openInTarget reaches a followed folder.
	targetFd int
	inDelete bool
	// cur is the folder the walk restores entries into. Walker only.
	cur *lazyDir
	// judged is the lstat of the path decide last judged (nil when
	// none was there): what takeAsSnapshots compares. Walker only.
	judged os.FileInfo
	// stated is the lstat of statedPath restoreFile made in a folder
	// that was there, for decide's. Walker only.
	stated     os.FileInfo
	statedPath string
	// same counts metadata failures, reported a few times each.
	same repeated
	// flags: the restore sets inode flags (as root, owners kept).
	// noFlags says once that the target does not keep them.
	flags   bool
	noFlags sync.Once
	// keepFlags: the restore gives entries the snapshot's inode flags,
	// which it recorded (Snapshot.InodeFlags). A snapshot from before
	// flags were kept says nothing of them: the target's are left alone,
	// but for clearing immutable or append-only where they are in the way.
	keepFlags bool
	// passFlags caches, by folder, whether a new entry there inherits
	// inode flags (see setFlags).
	passFlags sync.Map
	// linkFlagsMu serializes link's clearing and setting again of a
	// first name's immutable or append-only flag.
	linkFlagsMu sync.Mutex
	stats       struct {
		files, dirs, newDirs, others, links, bytes, skipped, skippedBytes, deleted, errors, stopped, filesDone, totalBytes atomic.Int64
		walkDone                                                                                                           atomic.Bool
	}
}

type dirMeta struct {
	path string
	node *tree.Node
	// existed: the directory was there before the restore, so it may
	// hold extended attributes (ACLs) the snapshot's does not.
	existed bool
	// onTheWay: the directory is not itself asked for, only on the way
	// to what is (excluded by the selection, or a folder above the
	// snapshot's paths, as / and /home for /home/ann).
	onTheWay bool
	// above: the directory is above the snapshot's paths (/ and /home
	// for /home/ann), which the snapshot holds only to reach them.
	above bool
	// kept: an existing folder above the paths as it was before the
	// restore dropped its default ACL or opened it up, to give back.
	kept *fsmeta.DirState
}

// openFile is a regular file being written by the workers.
type openFile struct {
	path     string // its final name
	tmp      string // the name it is written under until complete
	existed  bool   // something was at path when the restore came to it
	reserved bool   // new and large: an empty file keeps path taken until tmp replaces it
	// reservedIno: that empty file's device and inode, so that only it
	// is removed if the file fails, not another put at path meanwhile
	reservedIno [2]uint64
	f           *os.File // tmp; nil when opened for each write
	node        *tree.Node
	remaining   atomic.Int64
	failed      atomic.Bool
	stop        atomic.Bool // failed because the restore was stopped
	// damaged: some chunks could not be read (damaged or missing in
	// the repository). The rest is still written, and the file is put in
	// place with zeros where those chunks belong, without the snapshot's
	// metadata, so that what can be restored is.
	damaged atomic.Bool
	// zeros tallies the chunks left as zeros, reported once the file is
	// finished: the first to fail is not always the first in the file,
	// nor the only one.
	zeros   zeroTally
	written atomic.Int64 // bytes written into tmp
	// wmu lets one worker at a time write into the file. The filesystem
	// takes the file's lock for each buffered write anyway (ext4, xfs),
	// and a worker waiting for it in the kernel spins, then sleeps, and
	// keeps its Go processor meanwhile; waiting here, it hands that to
	// another worker with a chunk to decrypt. Over twelve interleaved
	// pairs of cold restores of the benchmark corpus (fresh targets), ten
	// were faster with it: 3.61 s against 3.88 s and 3.69 s against
	// 4.26 s on average in two batches of six, with 7% and 14% fewer
	// busy CPU ticks.
	wmu sync.Mutex

	mu       sync.Mutex
	finished bool     // in place (ok) or removed
	ok       bool     // in place
	links    []string // other names of its hardlink group, linked when it is in place
	// ino: the device and inode of the file written, to know it again
	// by its name (which another user may give to another file).
	ino [2]uint64
}

// firstName is the first name restored of a hardlink group: the others
// are linked to it.
type firstName struct {
	path   string
	file   *openFile // while it is written; nil when it was kept or made at once
	failed bool      // it could not be begun: the next name is restored instead
	// planned: with DryRun, it would be written anew, so no other name
	// is a link of it yet.
	planned bool
}

type chunkJob struct {
	file *openFile
	off  int64
	id   id.ID
	size uint64
}

// Run restores the subtree at subpath ("/" for all) of sn into opt.Target.
func Run(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, subpath string, opt Options) (*Stats, error) {
	if opt.Target == "" {
		return nil, errors.New("no --target given")
	}
	if opt.Workers <= 0 {
		opt.Workers = 2 * par.Cores
		// Remote storage answers each read after a round trip: keep
		// enough reads on their way to hide it.
		if p, ok := backends.As[backends.Parallel](r.Backend()); ok {
			opt.Workers = max(opt.Workers, 4*p.Connections())
		}
	}
	incl, err := filter.NewSelection(opt.Include, opt.IInclude, opt.Exclude, opt.IExclude)
	if err != nil {
		return nil, err
	}
	rs := &restorer{ctx: ctx, r: r, opt: opt, incl: incl, jobs: make(chan chunkJob, 4*opt.Workers), links: map[[2]uint64]*firstName{}, shared: map[[2]uint64]bool{}}
	rs.paths, rs.ways = pathSets(sn.Paths)
	rs.flags = !opt.SkipOwner && os.Geteuid() == 0
	rs.keepFlags = rs.flags && sn.InodeFlags
	if opt.Delete {
		// Patterns an ingest accepted parse; one that does not (from a
		// newer writer) stops the restore before it starts, rather than
		// deleting what it may have left out.
		var perr, ierr error
		rs.leftOut, perr = filter.Parse(sn.Excludes)
		lower := make([]string, len(sn.IExcludes))
		for i, p := range sn.IExcludes {
			lower[i] = strings.ToLower(p)
		}
		rs.leftOutI, ierr = filter.Parse(lower)
		if err := errors.Join(perr, ierr); err != nil {
			return nil, fmt.Errorf("--delete: the snapshot's exclude patterns: %w", err)
		}
	}
	root, rel, err := Find(ctx, r, sn, subpath)
	if err != nil {
		return nil, err
	}
	rs.base, rs.baseRel, rs.root = filepath.Clean(opt.Target), rel, root
	if root.Kind != tree.KindDir {
		rs.base = filepath.Join(opt.Target, root.Name)
	}
	rs.incl = rs.incl.Beneath(PatternRoot(root, rel))
	if opt.DryRun {
		// What MkdirAll would refuse, refused.
		if fi, err := os.Stat(opt.Target); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("create target: %s: %w", opt.Target, unix.ENOTDIR)
		}
	} else if err := fsmeta.MkdirAll(opt.Target, 0o700); err != nil {
		return nil, fmt.Errorf("create target: %w", err)
	} else {
		// Everything below the target is reached from it through no
		// symlink: a folder swapped for one while the restore runs (by
		// another user of a shared folder) is an error, and nothing
		// outside the target is written, chowned or removed.
		release, err := fsmeta.Confine(opt.Target)
		switch {
		case errors.Is(err, fsmeta.ErrNoProc):
			// A rescue chroot without /proc: the restore matters
			// more than the guard against other users of the target.
			if opt.Notice != nil {
				opt.Notice(opt.Target, "/proc is not mounted: the restore cannot refuse a folder another user swaps for a symlink while it runs (mount /proc to have it do so)")
			}
		case err != nil:
			return nil, fmt.Errorf("open target: %w", err)
		}
		defer release()
	}
	if real, err := evalAbs(opt.Target); err == nil {
		rs.realTarget = real
	}
	// metaTarget is the folder that gets the root's metadata: a target
	// given as a symlink to a folder (/mnt/new -> /media/disk) is
	// followed, as it is for what is restored in it; the symlink itself,
	// which is not in the target, is left as it is.
	metaTarget := opt.Target
	if fi, err := os.Lstat(opt.Target); err == nil && fi.Mode()&os.ModeSymlink != 0 && rs.realTarget != "" {
		metaTarget = rs.realTarget
	}
	// A folder the patterns exclude (restoring SNAP:/home/ann with
	// --exclude ann) holds nothing to restore: the target is left as it
	// is, not given the folder's owner, mode and times.
	dir := root.Kind == tree.KindDir && rs.incl.MayContain(rel)
	var targetKept *fsmeta.DirState
	if dir && !opt.DryRun && rs.above(rel) {
		// Left as it is (see the directory metadata below): what is
		// changed to restore into it is given back at the end.
		if targetKept, err = fsmeta.SaveDirState(metaTarget); err != nil {
			rs.warn(opt.Target, err)
		}
	}
	if dir && !opt.DryRun && rs.flags && !rs.above(rel) {
		// The target stands for the snapshot's folder, as a folder
		// below it does in ensure: immutable or append-only (as a
		// restore of an immutable SNAP:FOLDER before left it), it would
		// refuse what the restore puts in it or removes. Its flags are
		// cleared first and set to the snapshot's when it is done.
		if err := fsmeta.ClearBlockingFlags(metaTarget); err != nil {
			rs.warn(opt.Target, fmt.Errorf("clear immutable/append-only flags: %w", err))
		}
	}
	if dir && !opt.DryRun {
		// The target gets the root's metadata, and what is created in it
		// must inherit nothing from an ACL it has (of its own, or from
		// its parent when MkdirAll made it).
		if err := fsmeta.DropDefaultACL(metaTarget); err != nil {
			rs.warn(opt.Target, err)
		}
		// Nor may its mode keep the owner out (a restore before gave
		// it the root's 0555): the root's own is set last.
		if err := fsmeta.OpenUp(metaTarget); err != nil {
			rs.warn(opt.Target, err)
		}
	}
	coalesce := opt.ReadPacks
	if p, ok := backends.As[backends.Parallel](r.Backend()); ok && p.Connections() > 0 {
		coalesce = true
	}
	if coalesce && !opt.DryRun {
		rs.runs = make(chan []located, opt.Workers)
		rs.hungry = make(chan struct{}, 1)
		rs.arena = newSpanArena(readBudget)
		rs.plain = bufpool.NewList(plainKept)
		go rs.coalescer()
	}
	for i := 0; i < opt.Workers && !opt.DryRun; i++ {
		rs.wg.Add(1)
		if coalesce {
			go rs.runWorker()
		} else {
			go rs.worker()
		}
	}
	start := time.Now()
	rs.began = start.UnixNano()
	stop := rs.startProgress(start)
	if dir {
		rs.restoreDir(root.Subtree, opt.Target, rel, &lazyDir{made: true})
		above := rs.above(rel)
		rs.dirs = append(rs.dirs, dirMeta{metaTarget, root, true, !rs.incl.Includes(rel) || above, above, targetKept})
	} else if root.Kind != tree.KindDir && rs.incl.Includes(rel) {
		// A single file is restored only when the patterns take it, as
		// it would be in a restore of its folder.
		rs.dropPartials(opt.Target, []*tree.Node{root})
		rs.restoreNode(root, filepath.Join(opt.Target, root.Name), rel, true, &lazyDir{made: true})
	}
	rs.stats.walkDone.Store(true)
	close(rs.jobs)
	rs.wg.Wait()
	stop()
	var verified int64
	if opt.Verify && !opt.DryRun && ctx.Err() == nil {
		verified = rs.verify()
	}
	// Before the directories get their metadata: deleting changes their
	// mtimes. Only after a complete restore, and only for a folder.
	if opt.Delete && ctx.Err() == nil && dir {
		rs.deletePass(root, rel)
	}
	// Directory metadata last, deepest first: entries were appended after
	// their contents.
	for _, d := range rs.dirs {
		if opt.SkipOwner && d.onTheWay && d.existed && !ownDir(d.path) {
			// A user's restore cannot set the times or mode of another
			// user's folder (/, /home), and was not asked to: leave it,
			// without an error, as restic does.
			continue
		}
		if d.above && d.existed {
			// Restoring a snapshot of /home/ann leaves the folders
			// above it that are already there (the target, /home) as
			// they are: the snapshot holds them only to reach
			// /home/ann, and their mode, owner and times are not what
			// was asked for (a private --target made 0755 like /).
			// What the restore changed to restore into it (its default
			// ACL, its owner's rwx) is given back.
			if d.kept != nil && !opt.DryRun {
				if err := d.kept.PutBack(d.path); err != nil {
					rs.warn(d.path, err)
				}
			}
			continue
		}
		if !opt.DryRun {
			ao := fsmeta.ApplyOptions{SkipOwner: opt.SkipOwner, PruneXattrs: d.existed, Flags: rs.setFlags(d.path, d.node, d.existed)}
			var err error
			if d.existed {
				// Lstat now, its contents done: a folder a re-run
				// left as the snapshot has it is not changed again.
				fi, _ := fsmeta.Lstat(d.path)
				_, err = fsmeta.ApplyChanged(d.path, fi, d.node, ao)
			} else {
				err = fsmeta.Apply(d.path, d.node, ao)
			}
			if err != nil {
				rs.warn(d.path, err)
				continue
			}
		}
		rs.item(d.path, Restored, 0)
	}
	if opt.Warn != nil {
		for _, err := range rs.same.summary() {
			opt.Warn(opt.Target, err)
		}
	}
	st := &Stats{Files: rs.stats.files.Load(), Dirs: rs.stats.dirs.Load(), NewDirs: rs.stats.newDirs.Load(), Others: rs.stats.others.Load(), Links: rs.stats.links.Load(),
		Bytes: rs.stats.bytes.Load(), Skipped: rs.stats.skipped.Load(), SkippedBytes: rs.stats.skippedBytes.Load(), Deleted: rs.stats.deleted.Load(),
		Errors: rs.stats.errors.Load(), Stopped: rs.stats.stopped.Load(), Verified: verified}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	if st.Errors > 0 {
		noun := "errors"
		if st.Errors == 1 {
			noun = "error"
		}
		return st, fmt.Errorf("%d %s: %w", st.Errors, noun, ErrIncomplete)
	}
	return st, nil
}

// ownDir says the folder at p belongs to the restoring user.
func ownDir(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && int(st.Uid) == os.Geteuid()
}

func (rs *restorer) warn(p string, err error) {
	if err = rs.dropNoFlags(p, err); err == nil {
		return
	}
	rs.stats.errors.Add(1)
	if rs.opt.Delete {
		rs.failedMu.Lock()
		rs.failed = append(rs.failed, p)
		rs.failedMu.Unlock()
	}
	if rs.opt.Warn != nil {
		if err = rs.same.filter(err); err != nil {
			rs.opt.Warn(p, err)
		}
	}
}

// item reports what was done with p, when someone listens.
func (rs *restorer) item(p string, a Action, size uint64) {
	if rs.opt.Item != nil {
		rs.opt.Item(p, a, size)
	}
}
