package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// The restore dialog's stages.
const (
	stageChoose = iota
	stageRunning
	stageDone
)

// The dialog's fields, moved through with tab or the arrows.
const (
	fieldWhere = iota
	fieldFolder
	fieldOverwrite
	fieldStart
	fieldCount
)

var overwriteNames = []string{"if-changed", "always", "never"}

// restorePage chooses where and how to restore the marked entries, runs
// the restore with a progress bar, and reports what happened.
type restorePage struct {
	items     []*mark
	stage     int
	field     int
	original  bool
	folder    lineEdit
	overwrite restore.Overwrite

	jobs     []restoreJob
	job      int
	prog     restore.Progress // of the running job
	sizes    []workSize       // of each job, when totalOK
	totalOK  bool
	started  time.Time
	cancel   context.CancelFunc
	canceled bool
	startErr error

	report restoreReport
	cur    cursor
	logs   []string // the repository's notices while it ran
}

// restoreJob is one call of restore.Run: one marked entry restored on
// its own, so that nothing but the marks is touched (not the folders
// above them, whose mode and mtime stay as they are).
type restoreJob struct {
	sn     *repo.Snapshot
	path   string     // the marked entry inside the snapshot
	node   *tree.Node // its node (kind), when known
	target string     // restore.Options.Target: where path's contents go, or its parent for a file
	dst    string     // where the entry itself lands
	root   string     // the folder dst is placed in ("/" in the original location)
	folder string     // the folder chosen to restore into ("" in the original location)
	stats  *restore.Stats
	err    error
	done   bool
}

// workSize is what a restore job has to write: bytes and files (each
// hardlink group once).
type workSize struct{ bytes, files int64 }

type restoreReport struct {
	failures []string
	notices  []string
	parents  int
	elapsed  time.Duration
}

// Restore events, sent from the restore goroutine.
type (
	restoreTotal struct {
		sizes []workSize // one per job
		ok    bool
	}
	restoreProgress struct {
		job int
		p   restore.Progress
	}
	restoreJobDone struct {
		job   int
		stats *restore.Stats
		err   error
	}
	restoreFinished struct {
		failures, notices []string
		parents           int   // folders made above the marks
		err               error // before any job ran (the lock, say)
	}
)

// restoreChoice is what the dialog was last started with, offered again
// the next time in the same session.
type restoreChoice struct {
	original  bool
	folder    string
	overwrite restore.Overwrite
}

// lastRestore holds each App's restoreChoice (*App → restoreChoice).
var lastRestore sync.Map

// openRestore pushes the restore dialog for items, set as the last
// restore of the session was started.
func (a *App) openRestore(items []*mark) tea.Cmd {
	if len(items) == 0 {
		a.note("nothing marked: mark files and folders with space first")
		return nil
	}
	// A reload (ctrl+r) brings new copies of the snapshots, so marks made
	// before and after it can hold two copies of one snapshot: give them
	// one, or the plan would take them for two snapshots (a subfolder
	// each, a mark inside a marked folder restored twice).
	one := map[string]*repo.Snapshot{}
	for i, m := range items {
		k := m.sn.ID.String()
		if sn, ok := one[k]; !ok {
			one[k] = m.sn
		} else if sn != m.sn {
			c := *m
			c.sn = sn
			items[i] = &c
		}
	}
	p := &restorePage{items: items, original: true}
	if wd, err := os.Getwd(); err == nil {
		p.folder.value = filepath.Join(wd, "restored")
	}
	if v, ok := lastRestore.Load(a); ok {
		c := v.(restoreChoice)
		p.original, p.overwrite = c.original, c.overwrite
		if c.folder != "" {
			p.folder.value = c.folder
		}
	}
	return a.push(p, nil)
}

func (p *restorePage) title() string { return "restore" }

func (p *restorePage) typing() bool {
	return p.stage == stageChoose && p.field == fieldFolder && !p.original
}

func (p *restorePage) back(a *App) bool {
	if p.stage == stageRunning {
		p.stop()
		return true
	}
	if p.stage == stageDone {
		a.pop()
		return true
	}
	return false
}

func (p *restorePage) stop() {
	if p.cancel != nil && !p.canceled {
		p.canceled = true
		p.cancel()
	}
}

func (p *restorePage) help() []binding {
	return []binding{
		{"tab/↓ shift+tab/↑", "next / previous field"},
		{"←/→", "change the choice (space too, but for where)"},
		{"(type)", "edit the folder when it is selected"},
		{"ctrl+u alt+backspace", "clear the folder / delete its last part (ctrl+w too)"},
		{"enter", "start the restore"},
		{"esc", "cancel the dialog"},
		{"esc/q/ctrl+c", "stop a running restore (it winds down, then reports); ctrl+c again quits at once"},
		{"↑/↓ pgup/pgdn", "scroll the final report"},
		{"(hardlinks)", "names of one file in separate marks are restored as separate copies: mark a folder holding all of them to keep them linked"},
	}
}

func (p *restorePage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case restoreTotal:
		p.sizes, p.totalOK = msg.sizes, msg.ok && len(msg.sizes) == len(p.jobs)
	case restoreProgress:
		p.job, p.prog = msg.job, msg.p
	case restoreJobDone:
		j := &p.jobs[msg.job]
		j.stats, j.err, j.done = msg.stats, msg.err, true
		p.prog = restore.Progress{}
		if msg.job+1 < len(p.jobs) {
			p.job = msg.job + 1
		}
	case restoreFinished:
		p.report.failures = msg.failures
		p.report.notices = append(p.logs, msg.notices...)
		p.report.parents = msg.parents
		p.report.elapsed = time.Since(p.started)
		p.startErr = msg.err
		p.stage = stageDone
		a.restoreCancel = nil
		if p.cancel != nil {
			p.cancel()
		}
		// Unmark what was restored; what was kept, failed or never
		// reached stays marked, to try again.
		for _, j := range p.jobs {
			if p.state(j) == "restored" && a.marks.has(j.sn, j.path) {
				a.marks.toggle(j.sn, j.path, nil)
			}
		}
		return nil
	case tea.KeyMsg:
		return p.key(a, msg)
	}
	return nil
}

// ok reports a finished restore with no failures.
func (p *restorePage) ok() bool {
	for _, j := range p.jobs {
		if !j.done || j.err != nil {
			return false
		}
	}
	return len(p.report.failures) == 0 && !p.canceled && p.startErr == nil
}

// state says what became of job j's entry: restored, kept (the overwrite
// policy left what was there), failed, partly restored (a folder stopped
// half way) or not restored (stopped before it was complete, or never
// reached). A stopped restore leaves no file partial: a file not complete
// was removed, and what it was to replace is still there.
func (p *restorePage) state(j restoreJob) string {
	for _, f := range p.report.failures {
		if strings.HasPrefix(f, j.dst+": ") || strings.HasPrefix(f, j.dst+"/") {
			return "failed"
		}
	}
	st := j.stats
	stopped := errors.Is(j.err, context.Canceled)
	switch {
	case !j.done || st == nil || j.err != nil && !errors.Is(j.err, restore.ErrIncomplete) && !stopped:
		return "not restored"
	case st.Files+st.NewDirs+st.Links+st.Others == 0 && st.Skipped > 0 && st.Stopped == 0:
		// Folders that were there already and only given their
		// metadata again (a marked folder's subfolders, run again)
		// do not make it restored.
		return "kept"
	case !stopped:
		return "restored"
	case st.Files+st.Dirs+st.Links+st.Others == 0:
		return "not restored"
	case j.node != nil && j.node.Kind == tree.KindDir:
		return "partly restored"
	case st.Stopped > 0:
		return "not restored"
	}
	return "restored"
}

// notRestored counts the files a stopped restore did not restore; exact
// says the count includes those of entries it never reached (their
// number is known).
func (p *restorePage) notRestored() (n int64, exact bool) {
	exact = p.totalOK
	for i, j := range p.jobs {
		st := j.stats
		if j.done && j.err == nil {
			continue
		}
		var missing int64
		if st != nil {
			missing = st.Stopped
		}
		if exact {
			left := p.sizes[i].files
			if st != nil {
				left -= st.Files + st.Skipped
			}
			missing = max(missing, left)
		} else if st == nil || !j.done || j.node == nil || j.node.Kind == tree.KindDir {
			exact = false
		}
		n += max(0, missing)
	}
	return n, exact
}

func (p *restorePage) key(a *App, msg tea.KeyMsg) tea.Cmd {
	k := msg.String()
	switch p.stage {
	case stageRunning:
		return nil
	case stageDone:
		// The report has no cursor: the keys scroll it.
		p.cur.scroll(k, len(p.reportLines(a)), a.bodyHeight())
		return nil
	}
	switch k {
	case "esc":
		a.pop()
		return nil
	case "tab", "down":
		p.field = (p.field + 1) % fieldCount
		if p.field == fieldFolder && p.original {
			p.field++
		}
		return nil
	case "shift+tab", "up":
		p.field = (p.field + fieldCount - 1) % fieldCount
		if p.field == fieldFolder && p.original {
			p.field--
		}
		return nil
	case "enter":
		return p.start(a)
	}
	if p.typing() {
		p.folder.key(msg)
		return nil
	}
	// Letters do nothing outside the folder field: a path typed while
	// another field had the cursor turned o, t, h and l into hidden
	// shortcuts, switching to the original location or changing the
	// overwrite choice unseen.
	switch k {
	case "left", "right", " ":
		step := 1
		if k == "left" {
			step = -1
		}
		switch p.field {
		case fieldWhere:
			// Not with space: a path with a space typed on this
			// field chose the original location, an in-place
			// restore, unseen.
			if k != " " {
				p.original = !p.original
			}
		case fieldOverwrite:
			p.overwrite = restore.Overwrite((int(p.overwrite) + len(overwriteNames) + step) % len(overwriteNames))
		case fieldStart:
			if k == " " {
				return p.start(a)
			}
		}
	}
	return nil
}

// plan makes one job per mark, each restoring only the marked entry (a
// mark inside a marked folder of the same snapshot is restored with it).
// In the original location an entry goes back to its own path; into a
// folder, the marks of a snapshot keep their paths below their common
// folder (in a subfolder per snapshot when there are several).
func (p *restorePage) plan() ([]restoreJob, error) {
	var items []*mark
	for _, m := range p.items {
		inside := false
		for _, o := range p.items {
			if o != m && o.sn == m.sn && o.path != m.path && strings.HasPrefix(m.path, strings.TrimSuffix(o.path, "/")+"/") {
				inside = true
			}
		}
		if !inside {
			items = append(items, m)
		}
	}
	base := map[*repo.Snapshot]string{}
	for _, m := range items {
		if b, ok := base[m.sn]; ok {
			base[m.sn] = commonDir(b, path.Dir(m.path))
		} else {
			base[m.sn] = path.Dir(m.path)
		}
	}
	dir := ""
	if !p.original {
		dir = strings.TrimSpace(p.folder.value)
		if dir == "" {
			return nil, errors.New("choose a folder to restore into")
		}
		if dir == "~" || strings.HasPrefix(dir, "~/") {
			// Without HOME (env -i, a service) "~" must not become
			// a folder of that name here, which a later rm -rf ~
			// would take for the home.
			home, err := os.UserHomeDir()
			if err != nil {
				return nil, fmt.Errorf("cannot restore into %s: %v; give the folder's full path", dir, err)
			}
			dir = filepath.Join(home, strings.TrimPrefix(dir[1:], "/"))
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		dir = abs
	}
	var jobs []restoreJob
	var root string
	for _, m := range items {
		j := restoreJob{sn: m.sn, path: m.path, node: m.node}
		if p.original {
			j.dst = filepath.FromSlash(m.path)
		} else {
			root = dir
			if len(base) > 1 {
				root = filepath.Join(dir, m.sn.ID.Short())
			}
			j.dst = filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(m.path, base[m.sn])))
		}
		j.root = string(filepath.Separator)
		if !p.original {
			j.root, j.folder = root, dir
		}
		j.target = filepath.Dir(j.dst)
		if m.node != nil && m.node.Kind == tree.KindDir {
			j.target = j.dst
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func (p *restorePage) start(a *App) tea.Cmd {
	jobs, err := p.plan()
	if err != nil {
		a.fail(err)
		return nil
	}
	p.jobs, p.stage, p.started = jobs, stageRunning, time.Now()
	lastRestore.Store(a, restoreChoice{original: p.original, folder: p.folder.value, overwrite: p.overwrite})
	ctx, cancel := context.WithCancel(a.ctx)
	p.cancel, a.restoreCancel = cancel, cancel
	events := make(chan any, 64)
	a.restoreEvents = append(a.restoreEvents, events)
	go runRestore(ctx, a.r, a.sizes, jobs, p.overwrite, a.opt.NoLock, events)
	return p.wait(events)
}

// wait delivers the next restore event to p, and waits again after it.
func (p *restorePage) wait(events chan any) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-events
		if !ok {
			return nil
		}
		return pageMsg{to: p, body: chained{ev, p.wait(events)}}
	}
}
