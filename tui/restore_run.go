package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Running a restore of marks: one repo/restore run per mark, under one
// lock, with the folders above the marks made and given their metadata.

// chained is a message followed by the command that waits for the next.
type chained struct {
	msg  any
	next tea.Cmd
}

// runRestore sums the jobs' sizes, then runs them one after the other
// under one shared lock (none with noLock), and reports through events,
// which it closes at the end.
func runRestore(ctx context.Context, r *repo.Repository, sizes *sizeCache, jobs []restoreJob, ow restore.Overwrite, noLock bool, events chan<- any) {
	defer close(events)
	var mu sync.Mutex
	var failures, notices []string
	warn := func(p string, err error) {
		mu.Lock()
		failures = append(failures, p+": "+dialogWording(err.Error()))
		mu.Unlock()
	}
	parents := 0
	finish := func(err error) {
		mu.Lock()
		events <- restoreFinished{failures: failures, notices: notices, parents: parents, err: err}
		mu.Unlock()
	}
	work, ok, split := jobSizes(ctx, r, sizes, jobs)
	events <- restoreTotal{sizes: work, ok: ok}
	if split > 0 {
		notices = append(notices, fmt.Sprintf("%s in separate marks: restored as separate copies, not linked (mark a folder holding all the names to keep them linked)",
			plural(split, "file has hardlinks", "files have hardlinks")))
	}
	if !noLock {
		lock, err := r.Lock(ctx, false, "tui restore")
		if err != nil {
			if repo.LockUnwritable(err) {
				err = fmt.Errorf("%w (the lock must be written there; cairn --no-lock tui restores without one)", err)
			}
			finish(err)
			return
		}
		defer lock.Unlock()
		// Cancelled if the lock's lease is lost.
		ctx = lock.Context()
	}
	skipOwner := os.Geteuid() != 0
	// A mark whose way into the chosen folder holds something that is no
	// folder (a symlink to elsewhere) is not restored: nothing is made or
	// written through it.
	refused := map[int]error{}
	var clear []restoreJob
	for i, j := range jobs {
		err := checkWay(j.folder, j.target)
		if err == nil && j.folder == "" && j.target == j.dst {
			err = checkMarkedDir(j.dst)
		}
		if err != nil {
			refused[i] = err
			warn(j.dst, err)
			continue
		}
		clear = append(clear, j)
	}
	made := makeParents(ctx, r, clear, warn)
	parents = len(made)
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			events <- restoreJobDone{job: i, err: err}
			continue
		}
		if err := refused[i]; err != nil {
			events <- restoreJobDone{job: i, err: err}
			continue
		}
		opt := restore.Options{Target: j.target, Overwrite: ow, SkipOwner: skipOwner,
			Interval: 100 * time.Millisecond,
			Warn:     warn,
			Notice: func(p, msg string) {
				mu.Lock()
				notices = append(notices, p+": "+dialogWording(msg))
				mu.Unlock()
			},
			Progress: func(pr restore.Progress) {
				select {
				case events <- restoreProgress{job: i, p: pr}:
				default: // the screen is behind: skip a frame
				}
			}}
		st, err := restore.Run(ctx, r, j.sn, j.path, opt)
		events <- restoreJobDone{job: i, stats: st, err: err}
	}
	// The folders above the marks get their metadata last, deepest
	// first, as restore does for the folders it makes.
	for _, d := range made {
		if d.node == nil {
			continue
		}
		if err := fsmeta.Apply(d.path, d.node, fsmeta.ApplyOptions{SkipOwner: skipOwner}); err != nil {
			warn(d.path, err)
		}
	}
	finish(nil)
}

// jobSizes is what each job has to write (ok when every size is known),
// and how many hardlink groups have names in two jobs of one snapshot:
// each restore.Run links the names it restores, not those of another.
func jobSizes(ctx context.Context, r *repo.Repository, sizes *sizeCache, jobs []restoreJob) ([]workSize, bool, int) {
	out := make([]workSize, len(jobs))
	ok := true
	type group struct {
		sn  *repo.Snapshot
		key [2]uint64
	}
	seen := map[group]int{} // the first job holding a name of the group
	split := map[group]bool{}
	for i, j := range jobs {
		var t dirTotal
		node := j.node
		if node != nil && node.Kind == tree.KindDir && node.Subtree.IsZero() {
			// Empty, or a folder a diff shows only on the way to its
			// changes, marked with a node of its kind alone: the
			// snapshot's node says which (else its total is taken
			// for 0, and the bar and a stopped restore's count of
			// files not restored are wrong).
			n, _, err := restore.Find(ctx, r, j.sn, j.path)
			if err != nil {
				ok = false
			} else {
				node = n
			}
		}
		switch {
		case node == nil:
			ok = false
		case node.Kind == tree.KindFile:
			t = fileTotal(node)
		case node.Kind == tree.KindDir && !node.Subtree.IsZero():
			var err error
			t, err = sizes.total(ctx, r, node.Subtree)
			ok = ok && err == nil
		}
		out[i] = workSize{bytes: t.bytes, files: t.files}
		for k := range t.open {
			g := group{j.sn, k}
			if first, dup := seen[g]; !dup {
				seen[g] = i
			} else if first != i {
				split[g] = true
			}
		}
	}
	return out, ok, len(split)
}

// madeDir is a folder made above a mark, with its node in the snapshot.
type madeDir struct {
	path string
	node *tree.Node // nil when it could not be read
}

// checkWay says why target, where a restore into folder is to write, must
// not be used: something from below folder down to target itself is
// there and is not a folder (a symlink, which would lead the restore out
// of folder). Restoring in the original location (folder "") follows the
// system's own symlinks as any path does.
func checkWay(folder, target string) error {
	if folder == "" {
		return nil
	}
	root := folder
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is not inside %s", target, root)
	}
	if rel == "." {
		return nil
	}
	p := root
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, c)
		fi, err := fsmeta.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil // made below, with all under it
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			what := "a file"
			if fi.Mode()&os.ModeSymlink != 0 {
				what = "a symlink"
			}
			return fmt.Errorf("%s is %s, where the snapshot has a folder: nothing is restored through it", p, what)
		}
	}
	return nil
}

// checkMarkedDir says why a marked folder restored in the original
// location must not be restored at dst, its own path, which is its
// restore's target: something is there that is no folder. A symlink
// would be followed, the snapshot's files written into the folder it
// points to and that folder given the marked one's metadata.
func checkMarkedDir(dst string) error {
	fi, err := fsmeta.Lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return nil
	}
	what := "a file"
	if fi.Mode()&os.ModeSymlink != 0 {
		what = "a symlink"
	}
	return fmt.Errorf("%s is %s, where the snapshot has a folder: nothing is restored through it", dst, what)
}

// makeParents makes the missing folders between each job's root and its
// entry, private until the end (as restore makes folders), and returns
// them deepest first with their snapshot nodes.
func makeParents(ctx context.Context, r *repo.Repository, jobs []restoreJob, warn func(string, error)) []madeDir {
	var out []madeDir
	done := map[string]bool{}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		if j.root != string(filepath.Separator) {
			if err := fsmeta.MkdirAll(j.root, 0o700); err != nil {
				warn(j.root, err)
				continue
			}
		}
		// The missing folders above dst, nearest first.
		var missing []madeDir
		d, sp := filepath.Dir(j.dst), path.Dir(j.path)
		for d != j.root && !done[d] && strings.HasPrefix(d, j.root) && sp != "/" {
			if _, err := fsmeta.Lstat(d); !errors.Is(err, os.ErrNotExist) {
				break
			}
			n, _, err := restore.Find(ctx, r, j.sn, sp)
			if err != nil {
				warn(d, err)
				n = nil
			} else if n.Kind != tree.KindDir {
				n = nil
			}
			missing = append(missing, madeDir{path: d, node: n})
			d, sp = filepath.Dir(d), path.Dir(sp)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			m := missing[i]
			if err := fsmeta.Mkdir(m.path, 0o700); err != nil {
				warn(m.path, err)
				break
			}
			done[m.path] = true
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		return strings.Count(out[a].path, string(filepath.Separator)) > strings.Count(out[b].path, string(filepath.Separator))
	})
	return out
}

// commonDir is the deepest folder holding both x and y.
func commonDir(x, y string) string {
	for x != y {
		if len(x) > len(y) {
			x = path.Dir(x)
		} else {
			y = path.Dir(y)
		}
	}
	return x
}
