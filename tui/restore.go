package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
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
		{"←/→/space", "change the choice"},
		{"(type)", "edit the folder when it is selected"},
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
		p.report.failures, p.report.notices = msg.failures, msg.notices
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
	case st.Files+st.Dirs+st.Links+st.Others == 0 && st.Skipped > 0 && st.Stopped == 0:
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
		p.cur.move(k, len(p.reportLines(a)), a.h-4)
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
	switch k {
	case "left", "right", " ", "h", "l":
		step := 1
		if k == "left" || k == "h" {
			step = -1
		}
		switch p.field {
		case fieldWhere:
			p.original = !p.original
		case fieldOverwrite:
			p.overwrite = restore.Overwrite((int(p.overwrite) + len(overwriteNames) + step) % len(overwriteNames))
		case fieldStart:
			if k == " " {
				return p.start(a)
			}
		}
	case "o":
		p.original = true
	case "t":
		p.original = false
		p.field = fieldFolder
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
		if strings.HasPrefix(dir, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				dir = filepath.Join(home, dir[2:])
			}
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
			j.root = root
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
	go runRestore(ctx, a.r, a.sizes, jobs, p.overwrite, events)
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

// chained is a message followed by the command that waits for the next.
type chained struct {
	msg  any
	next tea.Cmd
}

// runRestore sums the jobs' sizes, then runs them one after the other
// under one shared lock, and reports through events, which it closes at
// the end.
func runRestore(ctx context.Context, r *repo.Repository, sizes *sizeCache, jobs []restoreJob, ow restore.Overwrite, events chan<- any) {
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
	lock, err := r.Lock(ctx, false, "tui restore")
	if err != nil {
		finish(err)
		return
	}
	defer lock.Unlock()
	skipOwner := os.Geteuid() != 0
	made := makeParents(lock.Context(), r, jobs, warn)
	parents = len(made)
	for i, j := range jobs {
		if err := lock.Context().Err(); err != nil {
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
		st, err := restore.Run(lock.Context(), r, j.sn, j.path, opt)
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
		switch {
		case j.node == nil:
			ok = false
		case j.node.Kind == tree.KindFile:
			t = fileTotal(j.node)
		case j.node.Kind == tree.KindDir && !j.node.Subtree.IsZero():
			var err error
			t, err = sizes.total(ctx, r, j.node.Subtree)
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
			if err := os.MkdirAll(j.root, 0o700); err != nil {
				warn(j.root, err)
				continue
			}
		}
		// The missing folders above dst, nearest first.
		var missing []madeDir
		d, sp := filepath.Dir(j.dst), path.Dir(j.path)
		for d != j.root && !done[d] && strings.HasPrefix(d, j.root) && sp != "/" {
			if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
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
			if err := os.Mkdir(m.path, 0o700); err != nil {
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

func (p *restorePage) view(a *App, w, h int) string {
	switch p.stage {
	case stageRunning:
		return p.progressView(a, w)
	case stageDone:
		lines := p.reportLines(a)
		p.cur.clamp(len(lines), h)
		return strings.Join(lines[p.cur.top:min(len(lines), p.cur.top+h)], "\n")
	}
	var b strings.Builder
	snaps := map[*repo.Snapshot]bool{}
	for _, m := range p.items {
		snaps[m.sn] = true
	}
	fmt.Fprintf(&b, "%s\n\n", styleHeader.Render(fmt.Sprintf("Restore %s from %s", plural(len(p.items), "marked entry", "marked entries"), plural(len(snaps), "snapshot", "snapshots"))))
	shown := max(1, h-10)
	for i, m := range p.items {
		if i == shown && len(p.items) > shown+1 {
			fmt.Fprintf(&b, "  … and %d more\n", len(p.items)-shown)
			break
		}
		kind := ""
		if m.node != nil && m.node.Kind.String() == "dir" {
			kind = "/"
		}
		fmt.Fprintf(&b, "  %s %s  %s%s\n", m.sn.ID.Short(), a.fmtTime(m.sn.Time), printable(m.path), kind)
	}
	b.WriteString("\n")
	sel := func(f int) string {
		if p.field == f {
			return "> "
		}
		return "  "
	}
	radio := func(on bool) string {
		if on {
			return "(•)"
		}
		return "( )"
	}
	fmt.Fprintf(&b, "%sWhere:     %s original location   %s folder\n", sel(fieldWhere), radio(p.original), radio(!p.original))
	if !p.original {
		cursor := ""
		if p.typing() {
			cursor = "▏"
		}
		fmt.Fprintf(&b, "%sFolder:    %s%s\n", sel(fieldFolder), p.folder.value, cursor)
	}
	var ow []string
	for i, n := range overwriteNames {
		ow = append(ow, radio(int(p.overwrite) == i)+" "+n)
	}
	fmt.Fprintf(&b, "%sExisting:  %s\n", sel(fieldOverwrite), strings.Join(ow, "   "))
	fmt.Fprintf(&b, "%s[ Start restore ]\n\n", sel(fieldStart))
	b.WriteString(styleDim.Render("enter starts · tab moves · ←/→ changes · esc cancels"))
	return b.String()
}

// perFileCost is what a file weighs beyond its bytes in the bar and the
// ETA: creating it, opening its chunks and setting its metadata take
// about as long as writing this much, so thousands of small files left
// keep the bar short of full.
const perFileCost = 32 << 10

// progress sums the finished jobs and the running one: bytes and files
// done, and their totals. known says the totals are final (else they are
// what the running job's walk found so far, and files has no total).
func (p *restorePage) progress() (done, total workSize, known bool) {
	known = p.totalOK
	for i, j := range p.jobs {
		var plan workSize
		if known {
			plan = p.sizes[i]
			total.bytes += plan.bytes
			total.files += plan.files
		}
		switch {
		case j.done && known && j.err == nil:
			// At its planned size: files kept or linked count as done.
			done.bytes += plan.bytes
			done.files += plan.files
		case j.done && j.stats != nil:
			done.bytes += j.stats.Bytes
			done.files += j.stats.Files
		case i == p.job:
			d := workSize{bytes: p.prog.BytesDone, files: p.prog.FilesDone}
			if known {
				d = workSize{bytes: min(d.bytes, plan.bytes), files: min(d.files, plan.files)}
			}
			done.bytes += d.bytes
			done.files += d.files
		}
	}
	if !known {
		total = workSize{bytes: done.bytes - min(p.prog.BytesDone, done.bytes) + p.prog.TotalBytes, files: done.files}
		known = p.job == len(p.jobs)-1 && p.prog.WalkDone
		total.bytes = max(total.bytes, done.bytes)
	}
	return done, total, known
}

func (w workSize) cost() float64 { return float64(w.bytes) + float64(w.files)*perFileCost }

func (p *restorePage) progressView(a *App, w int) string {
	var b strings.Builder
	j := p.jobs[min(p.job, len(p.jobs)-1)]
	fmt.Fprintf(&b, "%s\n\n", styleHeader.Render(fit(fmt.Sprintf("Restoring %s of snapshot %s to %s (%d/%d)",
		printable(j.path), j.sn.ID.Short(), printable(j.dst), p.job+1, len(p.jobs)), w)))
	done, total, known := p.progress()
	frac := 0.0
	if total.cost() > 0 {
		frac = min(1, done.cost()/total.cost())
	}
	fmt.Fprintf(&b, "%s %3.0f%%\n\n", progressBar(frac, max(10, w-10)), math.Floor(frac*100))
	elapsed := time.Since(p.started)
	if a.static {
		elapsed = 0
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done.bytes) / s
	}
	files := plural(int(done.files), "file", "files")
	totalS := formatBytes(total.bytes)
	if p.totalOK {
		files = fmt.Sprintf("%d/%d files", done.files, total.files)
	}
	if !known {
		totalS += "+"
	}
	fmt.Fprintf(&b, "%s  %s of %s  %s/s", files, formatBytes(done.bytes), totalS, formatBytes(int64(rate)))
	if left := total.cost() - done.cost(); known && elapsed > 0 && done.cost() > 0 && left > 0 {
		// Whole seconds, rounded up: never 0:00 while work is left.
		eta := time.Duration(float64(elapsed) * left / done.cost())
		eta = max(time.Second, (eta + time.Second - 1).Truncate(time.Second))
		fmt.Fprintf(&b, "  ETA %s", formatDuration(eta))
	}
	fmt.Fprintf(&b, "  elapsed %s\n\n", formatDuration(elapsed))
	if p.canceled {
		b.WriteString("stopping… ctrl+c again quits at once")
	} else {
		b.WriteString(styleDim.Render("esc, q or ctrl+c stops the restore"))
	}
	return b.String()
}

// reportLines is the final report: totals, what became of each marked
// entry and where it went, then every failure and notice.
func (p *restorePage) reportLines(a *App) []string {
	var out []string
	var sum restore.Stats
	counts := map[string]int{}
	width := max(20, a.w-2)
	for _, j := range p.jobs {
		counts[p.state(j)]++
		if st := j.stats; st != nil {
			sum.Files += st.Files
			sum.Dirs += st.Dirs
			if j.node != nil && j.node.Kind == tree.KindDir && j.err == nil {
				sum.Dirs++ // the marked folder itself, restore's target
			}
			sum.Links += st.Links
			sum.Others += st.Others
			sum.Bytes += st.Bytes
			sum.Skipped += st.Skipped
		}
	}
	sum.Dirs += int64(p.report.parents)
	switch {
	case p.canceled:
		head := fmt.Sprintf("Restore stopped after %s", formatDuration(p.report.elapsed))
		n, exact := p.notRestored()
		switch {
		case n > 0 && exact:
			head += fmt.Sprintf(": %s not restored (nothing partial left).", plural(int(n), "file", "files"))
		case n > 0:
			head += fmt.Sprintf(": at least %s not restored (nothing partial left).", plural(int(n), "file", "files"))
		case counts["restored"]+counts["kept"] < len(p.jobs):
			head += ": the rest not restored (nothing partial left)."
		default:
			head += " (nothing partial left)."
		}
		for _, l := range wrapReport(head, width, "") {
			out = append(out, styleError.Render(l))
		}
	case p.ok():
		out = append(out, styleHeader.Render(fmt.Sprintf("Restore finished in %s.", formatDuration(p.report.elapsed))))
	default:
		out = append(out, styleError.Render("Restore finished with failures."))
	}
	if p.startErr != nil {
		out = append(out, styleError.Render(p.startErr.Error()))
	}
	out = append(out, "")
	out = append(out, wrapReport(fmt.Sprintf("%s, %s, %s, %s, %s written; %d existing kept",
		plural(int(sum.Files), "file", "files"), plural(int(sum.Dirs), "folder", "folders"), plural(int(sum.Links), "link", "links"),
		plural(int(sum.Others), "other", "others"), formatBytes(sum.Bytes), sum.Skipped), width, "")...)
	out = append(out, "")
	var last *repo.Snapshot
	for _, j := range p.jobs {
		if j.sn != last {
			out = append(out, fmt.Sprintf("from snapshot %s %s:", j.sn.ID.Short(), a.fmtTime(j.sn.Time)))
			last = j.sn
		}
		line := fmt.Sprintf("  %-12s %s", p.state(j), printable(j.path))
		if j.dst != filepath.FromSlash(j.path) {
			line += " → " + printable(j.dst)
		}
		out = append(out, cutLines(line, width, strings.Repeat(" ", 15))...)
		if j.err != nil && !errors.Is(j.err, restore.ErrIncomplete) && !errors.Is(j.err, context.Canceled) {
			for _, l := range wrapReport(j.err.Error(), width, "    ") {
				out = append(out, styleError.Render(l))
			}
		}
	}
	if len(p.report.failures) > 0 {
		out = append(out, "", styleError.Render(plural(len(p.report.failures), "failure", "failures")+":"))
		for _, f := range p.report.failures {
			out = append(out, wrapReport(printable(f), width, "  ")...)
		}
	}
	if len(p.report.notices) > 0 {
		out = append(out, "", plural(len(p.report.notices), "notice", "notices")+":")
		for _, n := range p.report.notices {
			out = append(out, wrapReport(printable(n), width, "  ")...)
		}
	}
	out = append(out, "", styleDim.Render("esc closes"))
	return out
}

// progressBar draws frac (0..1) as a bar of width cells. (bubbles'
// progress needs harmonica, which the module does not require.)
func progressBar(frac float64, width int) string {
	full := int(math.Floor(min(max(frac, 0), 1) * float64(width))) // full only when done
	return styleMark.Render(strings.Repeat("█", full)) + styleDim.Render(strings.Repeat("░", width-full))
}

// dialogWording says the CLI's --overwrite hints in the dialog's terms.
var dialogWording = strings.NewReplacer(
	"use --overwrite always to replace it", "choose 'always' to replace it",
	"kept: --overwrite never", "kept: 'never' chosen",
).Replace

// wrapReport breaks s into lines of at most width cells at spaces, the
// first indented by indent and the others by two more spaces; a word
// longer than a line (a path) is cut where the line ends.
func wrapReport(s string, width int, indent string) []string {
	var out []string
	pre := indent
	line := []rune{}
	room := func() int { return max(10, width-len(pre)) }
	flush := func() {
		out = append(out, pre+string(line))
		pre, line = indent+"  ", line[:0]
	}
	for _, w := range strings.Fields(s) {
		word := []rune(w)
		if len(line) > 0 && len(line)+1+len(word) > room() {
			if len(word) <= room() {
				flush()
			}
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		for len(line)+len(word) > room() {
			n := room() - len(line)
			line = append(line, word[:n]...)
			word = word[n:]
			flush()
		}
		line = append(line, word...)
	}
	if len(line) > 0 || len(out) == 0 {
		flush()
	}
	return out
}

// cutLines breaks s, spaces and all, into lines of at most width runes,
// the ones after the first indented by indent.
func cutLines(s string, width int, indent string) []string {
	r := []rune(s)
	room := max(10, width)
	var out []string
	for len(r) > room {
		out = append(out, string(r[:room]))
		r = append([]rune(indent), r[room:]...)
		room = max(len(indent)+10, width)
	}
	return append(out, string(r))
}
