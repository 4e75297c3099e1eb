// Package ingest turns directories and streams into a snapshot.
//
// # Pipeline
//
// One walker goroutine lists directories in name order and hands each file
// to the file workers; those read and cut the file into chunks and hand the
// chunks to the blob workers, which hash, deduplicate, compress and seal
// them into packs (repo.Saver), while finished packs are verified and
// uploaded in the background. A directory's tree blob is written by
// whichever goroutine finishes its last entry, so no stage waits on a
// directory boundary and both cores stay busy.
//
// A file whose size, mtime, ctime and inode match the file-change cache of
// the same host and source is neither read nor hashed: its chunk list is
// reused, after checking the chunks are still indexed. With a parent
// snapshot chosen by the caller (Options.Parent), the file must match what
// that snapshot recorded instead. IgnoreInode and IgnoreCtime leave those
// out of the comparison.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/internal/par"
	"github.com/cairn-backup/cairn/repo/tree"
)

// DefaultSource is the source a snapshot records when none is named.
const DefaultSource = "default"

// Options describe one ingest.
type Options struct {
	Paths         []string // absolute or relative; made absolute
	Host          string   // default: the hostname
	Source        string   // default: DefaultSource
	Tags          []string
	Excludes      []string // restic-style patterns
	IExcludes     []string // the same, matched regardless of case
	ExcludeCaches bool     // skip the contents of folders holding a valid CACHEDIR.TAG
	// ExcludeIfPresent skips the contents of folders holding a file of
	// one of these names ("name", or "name:header" for a file that starts
	// with header), but for that file.
	ExcludeIfPresent []string
	// ExcludeLargerThan, when positive, leaves out files of more bytes.
	ExcludeLargerThan int64
	OneFileSystem     bool
	// Force reads every file again, whatever the file-change cache says
	// (which this ingest still records for the next).
	Force bool
	// Parent chooses the parent snapshot: "latest" (the newest of Host
	// and Source) or an ID prefix of any snapshot, whatever its host and
	// source. A file is then unchanged only when it matches what that
	// snapshot recorded, read from its trees rather than the file-change
	// cache. Empty: the newest snapshot of Host and Source, if any, with
	// the file-change cache. A parent that cannot be found is an error
	// (repo.ErrNotFound) before anything is read.
	Parent string
	// IgnoreInode takes a file as unchanged whatever its inode number
	// and ctime (as restic's --ignore-inode), for filesystems without
	// stable inode numbers and files copied anew; IgnoreCtime whatever its
	// ctime. Size and mtime must still match; the extended attributes of
	// a file whose ctime or inode moved are read again.
	IgnoreInode bool
	IgnoreCtime bool
	// SkipIfUnchanged writes no snapshot when the new one would hold
	// what the parent holds (the same tree of the same paths, but for
	// access times and the metadata of the folders above the paths):
	// Result.Skipped then says so, and Result.Snapshot is the snapshot
	// that was not written, without an ID.
	SkipIfUnchanged bool
	// DryRun reads, cuts, compresses and seals as an ingest does, and
	// counts what it would add, but stores nothing: no data, no
	// snapshot, no file-change cache. Result.Snapshot is the snapshot
	// that would have been written, without an ID (and Result.Skipped
	// says whether SkipIfUnchanged would have written none).
	DryRun bool

	// SetPath, when set, records the one path in Paths as this absolute
	// path: the snapshot's paths and trees, the parent it is compared
	// with, the file-change cache and the exclude patterns all see SetPath,
	// while the files are read from the path given. For a filesystem
	// snapshot mounted at a path that changes every night
	// (/snap/2026-11-28/home recorded as /home). The folders above SetPath
	// are taken from this machine's and must exist.
	SetPath string

	// Stdin, when set, is ingested as one file named StdinName instead of
	// Paths.
	Stdin     io.Reader
	StdinName string
	// StdinOwner, when set, owns the stream's file instead of this
	// process's user: a daemon ingesting a stream another user sent
	// records that user, who must be able to read it (mode 0600) on a
	// shared mount.
	StdinOwner *Owner

	Time    time.Time // snapshot time; default now
	Workers int       // blob workers; default one per core (par.Cores)

	// Warn is called for each path that could not be read. The snapshot
	// leaves it out; Result.Unreadable counts them.
	Warn func(path string, err error)
	// Notice, when set, is called for each path saved, but not exactly
	// as it is: a time beyond what a snapshot holds (before 1677-09-21
	// or after 2262-04-11) is recorded as the nearest one it does hold.
	// The snapshot holds the path; it is not counted as unreadable.
	Notice func(path, msg string)
	// Item, when set, is called for each file saved with what this
	// ingest did with it: "new", "modified" or "unchanged" (as restic's
	// backup -vv lists them). It is called from several goroutines.
	Item func(path, action string)
	// Progress, when set, is called about every Interval with the counters.
	Progress func(Progress)
	Interval time.Duration
	// Version is recorded in the snapshot.
	Version string
	// BeforeCommit, when set, runs after every blob is stored and indexed
	// and before the snapshot is written; an error means no snapshot (the
	// stdin command failed, say).
	BeforeCommit func() error
}

// Result is what an ingest produced.
type Result struct {
	Snapshot   *repo.Snapshot
	Unreadable int64
	// Skipped: nothing changed since the parent (Snapshot.Parent), and
	// with SkipIfUnchanged no snapshot was written.
	Skipped bool
}

// ErrInterrupted: the context was cancelled; no snapshot was written.
var ErrInterrupted = errors.New("interrupted")

type ingester struct {
	ctx      context.Context
	r        *repo.Repository
	opt      Options
	saver    *repo.Saver
	excludes []filter.Pattern
	// iexcludes are the --iexclude patterns, lower-cased, matched against
	// lower-cased paths.
	iexcludes []filter.Pattern
	tagFiles  []TagFile // --exclude-if-present, and CACHEDIR.TAG
	cache     *fileCache
	parent    *repo.Snapshot // nil: none
	// setPath and realPath: Options.SetPath, and the path given whose
	// files it names (both empty without SetPath).
	setPath, realPath string

	chunks chan *chunkJob
	files  chan *fileJob
	blobWG sync.WaitGroup
	fileWG sync.WaitGroup

	// hardlinks: (dev, inode) -> the first link's job
	linkMu sync.Mutex
	links  map[[2]uint64]*fileJob
	// every non-directory with Links > 1: its Links and how many of its
	// links this snapshot holds
	linkSeen map[[2]uint64][2]uint32

	walkers    chan struct{}    // slots for extra folder walkers
	prefetch   chan prefetchJob // small new files to read ahead
	prefetched atomic.Int64     // bytes read ahead, not yet read by a worker
	walkWG     sync.WaitGroup

	counts struct {
		filesNew, filesChanged, filesUnchanged atomic.Int64
		dirsNew, dirsChanged, dirsUnchanged    atomic.Int64
		unreadable, files, bytes, entries      atomic.Int64
	}
	prog struct {
		filesDone, bytesDone, totalFiles, totalBytes atomic.Int64
		holesDone, totalHoles                        atomic.Int64
		scanDone                                     atomic.Bool
		// walked: every file was read, so what was done is the total.
		walked atomic.Bool
		// finishing: the walk is over, the saver is flushing.
		finishing atomic.Bool
		current   atomic.Value
	}
	errMu sync.Mutex
	err   error
	// streamSame is set when the stream (--stdin) holds what the
	// parent's stream of the same name held, times aside.
	streamSame bool
}

func (g *ingester) fail(err error) {
	g.errMu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.errMu.Unlock()
}

func (g *ingester) failed() error {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.err != nil {
		return g.err
	}
	if g.ctx.Err() != nil {
		return ErrInterrupted
	}
	return nil
}

// item tells Item what was done with the file at path, counted in counter.
func (g *ingester) item(path string, counter *atomic.Int64) {
	if g.opt.Item == nil {
		return
	}
	action := "modified"
	switch counter {
	case &g.counts.filesNew:
		action = "new"
	case &g.counts.filesUnchanged:
		action = "unchanged"
	}
	g.opt.Item(path, action)
}

func (g *ingester) warn(path string, err error) {
	path = g.fsPath(path) // the path the user can look at
	g.counts.unreadable.Add(1)
	if g.opt.Warn != nil {
		g.opt.Warn(path, warnError(path, err))
	}
}

// noticeClamps tells Notice which times of path, whose node n has a
// time at the limit of what a snapshot holds, were clamped.
func (g *ingester) noticeClamps(path string, n *tree.Node) {
	if g.opt.Notice == nil || !fsmeta.MayBeClamped(n) {
		return
	}
	cs, err := fsmeta.Clamps(g.fsPath(path))
	if err != nil {
		return // gone since: the node was stored as read
	}
	for _, c := range cs {
		g.opt.Notice(path, clampMessage(c))
	}
}

// clampMessage says what a Clamp changed: "mtime 2500-01-01T00:00:00Z
// (16725225600 s since the epoch) is beyond what a snapshot holds
// (1677-09-21 to 2262-04-11): stored as 2262-04-11T23:47:16.854775807Z".
func clampMessage(c fsmeta.Clamp) string {
	const layout = "2006-01-02T15:04:05.999999999Z07:00"
	was := time.Unix(c.Real.Sec, c.Real.Nsec).UTC()
	// Sec is rounded down, Nsec added to it: before 1970 with a fraction,
	// the time is -(|Sec|-1).(1e9-Nsec) s.
	secs := strconv.FormatInt(c.Real.Sec, 10)
	switch {
	case c.Real.Nsec != 0 && c.Real.Sec < 0:
		secs = fmt.Sprintf("-%d.%09d", -(c.Real.Sec + 1), 1_000_000_000-c.Real.Nsec)
	case c.Real.Nsec != 0:
		secs += fmt.Sprintf(".%09d", c.Real.Nsec)
	}
	return fmt.Sprintf("%s %s (%s s since the epoch) is beyond what a snapshot holds (1677-09-21 to 2262-04-11): stored as %s",
		c.Which, was.Format(layout), secs, time.Unix(0, c.Stored).UTC().Format(layout))
}

// warnError is err for Warn, which is given the path as well: the path
// is taken out of the message ("open P: permission denied" becomes
// "open: permission denied", "read P: read P: input/output error" becomes
// "read: input/output error"), so that "cannot read P: ..." names it once.
// The error still unwraps to err.
func warnError(path string, err error) error {
	msg := err.Error()
	if path == "" || !strings.Contains(msg, path) {
		return err
	}
	// "OP PATH: " at the start of a part, OP one word, loses PATH.
	re := regexp.MustCompile(`(^|: )([a-z]+) ` + regexp.QuoteMeta(path) + `: `)
	for {
		m := re.ReplaceAllString(msg, "$1$2: ")
		if m == msg {
			break
		}
		msg = m
	}
	parts := strings.Split(msg, ": ")
	out := parts[:1]
	for _, p := range parts[1:] {
		if p != out[len(out)-1] {
			out = append(out, p)
		}
	}
	return pathlessError{strings.Join(out, ": "), err}
}

// pathlessError is an error printed without the path it was about.
type pathlessError struct {
	msg string
	err error
}

func (e pathlessError) Error() string { return e.msg }
func (e pathlessError) Unwrap() error { return e.err }

// Run ingests opt.Paths (or opt.Stdin) into r and writes the snapshot.
// The caller holds a shared lock on r. While it runs, the Go scheduler has
// a processor more than the cores (par.OneMoreProcessor).
func Run(ctx context.Context, r *repo.Repository, opt Options) (*Result, error) {
	start := time.Now()
	if opt.Host == "" {
		opt.Host, _ = os.Hostname()
	}
	if opt.Source == "" {
		opt.Source = DefaultSource
	}
	if opt.Workers <= 0 {
		opt.Workers = par.Cores
	}
	defer par.OneMoreProcessor()()
	if opt.Time.IsZero() {
		opt.Time = start
	}
	ex, err := filter.Parse(opt.Excludes)
	if err != nil {
		return nil, err
	}
	iex, err := filter.Parse(lowerAll(opt.IExcludes))
	if err != nil {
		return nil, err
	}
	tags, err := ParseTagFiles(opt.ExcludeIfPresent)
	if err != nil {
		return nil, err
	}
	if opt.ExcludeCaches {
		tags = append(tags, cacheDirTag)
	}
	if a := r.Config().Chunker.ChunkerAlgorithm(); a != repo.ChunkerGear && a != repo.ChunkerRabin {
		return nil, fmt.Errorf("the repository cuts data with chunker %q, which this cairn does not know; upgrade cairn to write to it: %w", a, repo.ErrUnsupported)
	}
	var paths []string
	if opt.Stdin != nil {
		if opt.StdinName == "" {
			opt.StdinName = "stdin"
		}
		paths = []string{opt.StdinName}
	} else if paths, err = absPaths(opt.Paths); err != nil {
		return nil, err
	}
	var missing []missingPath
	if opt.Stdin == nil && opt.SetPath == "" {
		if paths, missing, err = presentPaths(paths); err != nil {
			return nil, err
		}
	}
	var setPath, realPath string
	if opt.SetPath != "" && opt.Stdin == nil {
		if setPath, realPath, err = checkSetPath(opt.SetPath, paths); err != nil {
			return nil, err
		}
		paths = []string{setPath}
	}
	parent, err := findParent(ctx, r, opt, paths)
	if err != nil {
		return nil, err
	}
	// Pack files a killed ingest left behind; a day is far longer than any
	// live writer leaves its pack file untouched.
	if tc, ok := backends.As[backends.TempCleaner](r.Backend()); ok {
		tc.RemoveStaleTemp(24 * time.Hour)
	}
	g := &ingester{ctx: ctx, r: r, opt: opt, parent: parent, excludes: ex, iexcludes: iex, tagFiles: tags, links: map[[2]uint64]*fileJob{}, linkSeen: map[[2]uint64][2]uint32{}, walkers: make(chan struct{}, 3),
		setPath: setPath, realPath: realPath}
	for _, m := range missing {
		g.warn(m.path, m.err)
	}
	// Uploads outlive a cancel: Flush then indexes what was stored, so the
	// next ingest reuses it.
	// Two uploaders for a local disk: an upload verifies its pack (about
	// a tenth of a second of CPU for 16 MiB) before it stores it, and with
	// one, the blob worker that filled the next pack waited for that, 1.8 s
	// over a first ingest of the benchmark corpus (go tool trace
	// -pprof=sync). With two, the ingest took 7.29-7.56 s instead of
	// 7.37-8.27 (nine interleaved pairs). Remote storage wants several
	// uploads on their way.
	uploaders := 2
	if p, ok := backends.As[backends.Parallel](r.Backend()); ok {
		uploaders = p.Connections()
	}
	if opt.DryRun {
		g.saver = r.NewDryRunSaver(ctx)
		if opt.SkipIfUnchanged && parent != nil {
			// The trees that differ from the parent's are compared
			// with it at the end, though not stored.
			g.saver.KeepDryTrees()
		}
	} else {
		g.saver = r.NewSaver(context.WithoutCancel(ctx), uploaders)
	}
	// Data the index lists in a pack that storage has lost is stored again
	// when the source still has it: the ingest heals the repository. So is
	// data only in packs a prune marked for deletion: a snapshot must not
	// rely on them (see repo.Mark), even if this ingest's lock fails.
	if err := g.saver.AvoidLostAndMarked(ctx); err != nil {
		return nil, err
	}
	g.cache = newFileCache(r, opt.Host, opt.Source, paths, opt.Stdin != nil, g.saver.KnownIn)
	g.cache.reread = opt.Force
	g.cache.noSave = opt.DryRun
	if opt.Parent != "" || parent != nil && g.cache.empty() {
		// A chosen parent, or the newest snapshot of the host and source
		// when nothing here recorded their last ingest (a new or emptied
		// cache folder, or a private index while another process holds
		// the shared one): files are compared with what it recorded, as
		// restic does, instead of all being read again.
		g.cache.trees = newParentTrees(ctx, r, parent, g.saver.Damaged)
	}
	g.prog.current.Store("")

	g.chunks = make(chan *chunkJob, opt.Workers)
	g.files = make(chan *fileJob, filesAhead)
	for i := 0; i < opt.Workers; i++ {
		g.blobWG.Add(1)
		go g.blobWorker()
	}
	// Twice as many file workers as blob workers: reading cold files
	// waits on the disk, and the blob workers must not starve meanwhile.
	for i := 0; i < 2*opt.Workers; i++ {
		g.fileWG.Add(1)
		go g.fileWorker()
	}
	stopProgress := g.startProgress(start)

	var root *tree.Node
	var rootc <-chan *tree.Node
	if opt.Stdin != nil {
		root, err = g.ingestStdin()
	} else {
		if opt.Progress != nil {
			go g.scan(paths)
		}
		stopPrefetch := g.startPrefetch()
		rootc, err = g.ingestPaths(paths)
		stopPrefetch()
	}
	close(g.files)
	g.fileWG.Wait()
	close(g.chunks)
	g.blobWG.Wait()
	if err == nil && opt.Stdin == nil && g.failed() == nil {
		g.prog.walked.Store(true)
	}
	// Progress goes on while the last packs, the index and the cache are
	// written: after a first ingest of a million small files that took
	// two minutes, in which the user saw nothing move.
	g.prog.finishing.Store(true)
	if err == nil {
		err = g.failed()
	}
	if err == nil && rootc != nil {
		select {
		case root = <-rootc:
		default:
			err = errors.New("internal error: the walk ended with directories unfinished")
		}
	}
	// The file-change cache's last entries (the walk wrote the others as
	// it went) are written while the last packs are verified and stored,
	// not after: an entry naming a blob that then fails to be stored
	// costs the next ingest a read, never a wrong snapshot, as an entry
	// is used only when the index has every blob it names. A failed or
	// interrupted ingest keeps what it wrote, and drops nothing.
	cacheErr := make(chan error, 1)
	go func(complete bool) { cacheErr <- g.cache.finish(complete) }(err == nil)
	flushErr := g.saver.Flush()
	cerr := <-cacheErr
	stopProgress()
	if cerr != nil && err == nil {
		// Only a cache: a full or read-only cache folder costs the
		// next ingest a read of the files, not this snapshot.
		r.Logf("save file-change cache: %v; the next ingest reads the files again", cerr)
	}
	if err == nil {
		err = flushErr
	}
	if err != nil {
		// Whatever was uploaded is indexed by Flush, so a later ingest
		// reuses it; no snapshot is written.
		return nil, err
	}
	if opt.BeforeCommit != nil {
		if err := opt.BeforeCommit(); err != nil {
			return nil, err
		}
	}
	sn := g.snapshot(root.Subtree, paths, start)
	if root.Name != "" {
		rn := *root
		rn.Name = "root" // a node needs a valid name; the root's is not used
		// A folder: no device number, as in the trees (with SetPath "/"
		// it is that of a filesystem snapshot mounted anew each night).
		rn.Dev = 0
		sn.Root = tree.EncodeNode(&rn)
	}
	skipped := opt.SkipIfUnchanged && (g.streamSame || opt.Stdin == nil && sameAsParent(sn, parent, func(tid id.ID) ([]*tree.Node, error) {
		if b, ok := g.saver.DryTree(tid); ok {
			return tree.Decode(b)
		}
		return r.LoadTree(ctx, tid)
	}))
	if opt.DryRun || skipped {
		return &Result{Snapshot: sn, Unreadable: g.counts.unreadable.Load(), Skipped: skipped}, nil
	}
	if err := g.saver.CheckPruned(ctx); err != nil {
		return nil, err
	}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		return nil, fmt.Errorf("save snapshot: %w", err)
	}
	return &Result{Snapshot: sn, Unreadable: g.counts.unreadable.Load()}, nil
}

func (g *ingester) snapshot(tid id.ID, paths []string, start time.Time) *repo.Snapshot {
	st := g.saver.Stats()
	sn := &repo.Snapshot{
		Time: g.opt.Time, Tree: tid, Paths: paths, Host: g.opt.Host, Source: g.opt.Source,
		Tags: append([]string{}, g.opt.Tags...), UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
		Excludes: g.opt.Excludes, IExcludes: g.opt.IExcludes, ProgramVersion: g.opt.Version, InodeFlags: true,
	}
	if u, err := user.Current(); err == nil {
		sn.Username = u.Username
	}
	for k, c := range g.linkSeen {
		if c[1] != c[0] {
			sn.Links = append(sn.Links, repo.LinkCount{Dev: k[0], Inode: k[1], Count: c[1]})
		}
	}
	repo.SortLinkCounts(sn.Links)
	if p := g.parent; p != nil {
		pid := p.ID
		sn.Parent = &pid
	}
	c := &g.counts
	sn.Summary = &repo.Summary{
		Start: start, End: time.Now(),
		FilesNew: c.filesNew.Load(), FilesChanged: c.filesChanged.Load(), FilesUnchanged: c.filesUnchanged.Load(),
		DirsNew: c.dirsNew.Load(), DirsChanged: c.dirsChanged.Load(), DirsUnchanged: c.dirsUnchanged.Load(),
		FilesUnreadable: c.unreadable.Load(),
		DataBlobs:       int64(st.DataBlobs), TreeBlobs: int64(st.TreeBlobs), DataAdded: st.DataAdded, DataAddedStored: st.StoredAdded,
		TotalFiles: c.files.Load(), TotalBytes: c.bytes.Load(), TotalEntries: c.entries.Load(),
	}
	return sn
}

// Owner is a user and group ID.
type Owner struct{ UID, GID uint32 }

// ingestStdin stores the stream as one file in a root directory.
func (g *ingester) ingestStdin() (*tree.Node, error) {
	name := g.opt.StdinName
	if name == "" {
		name = "stdin"
	}
	if !tree.ValidName(name) {
		return nil, fmt.Errorf("--stdin-name %q is not a valid file name", name)
	}
	now := g.opt.Time.UnixNano()
	// Owner only: a stream is a database dump more often than not, and a
	// mount shared with other users (--allow-other) must not hand it to
	// them.
	n := &tree.Node{Name: name, Kind: tree.KindFile, Mode: 0o600, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), MTime: now, ATime: now, CTime: now, Links: 1}
	if o := g.opt.StdinOwner; o != nil {
		n.UID, n.GID = o.UID, o.GID
		if u, err := user.LookupId(strconv.FormatUint(uint64(o.UID), 10)); err == nil {
			n.User = u.Username
		}
		if g, err := user.LookupGroupId(strconv.FormatUint(uint64(o.GID), 10)); err == nil {
			n.Group = g.Name
		}
	} else if u, err := user.Current(); err == nil {
		n.User = u.Username
		if g, err := user.LookupGroupId(u.Gid); err == nil {
			n.Group = g.Name
		}
	}
	fj := &fileJob{path: name, node: n}
	content, size, err := g.readStream(fj, g.opt.Stdin)
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	n.Content, n.Size = content, uint64(size)
	// The stream's times are those of the ingest, so it is compared with
	// the parent's stream of the same name without them: a dump that has
	// not changed since the last night is unchanged (and
	// --skip-if-unchanged then writes no snapshot).
	counter := &g.counts.filesChanged
	switch prev := g.parentStream(name); {
	case prev == nil:
		counter = &g.counts.filesNew
	case sameButTimes(n, prev):
		counter = &g.counts.filesUnchanged
		g.streamSame = true
	case g.opt.Notice != nil && sameButOwnerAndMode(n, prev):
		// Saved before ce366bf (0644) or, through a daemon, before
		// f39656b (the daemon's): the same stream is counted changed
		// this once, and --skip-if-unchanged writes a snapshot; say
		// why, or it looks like a dump that changed.
		now, was := fmt.Sprintf("mode %04o", n.Mode), fmt.Sprintf("mode %04o", prev.Mode)
		if n.UID != prev.UID || n.GID != prev.GID {
			now += fmt.Sprintf(", owner %d:%d", n.UID, n.GID)
			was += fmt.Sprintf(", owner %d:%d", prev.UID, prev.GID)
		}
		g.opt.Notice("/"+name, fmt.Sprintf("the same stream as in the parent snapshot, but saved with %s where the parent has %s (as cairn saved streams before): counted changed this once", now, was))
	}
	counter.Add(1)
	g.item("/"+name, counter)
	g.counts.files.Add(1)
	g.counts.bytes.Add(size)
	g.counts.entries.Add(1)
	tid, err := g.saver.SaveTree([]*tree.Node{n})
	if err != nil {
		return nil, err
	}
	return &tree.Node{Kind: tree.KindDir, Subtree: tid}, nil
}
