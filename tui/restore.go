package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
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
	prog     restore.Progress
	started  time.Time
	cancel   context.CancelFunc
	canceled bool

	report restoreReport
	cur    cursor
}

// restoreJob is one call of restore.Run: the marks of one snapshot below
// their common folder.
type restoreJob struct {
	sn       *repo.Snapshot
	sub      string   // the common folder inside the snapshot
	target   string   // where sub's contents go
	include  []string // one anchored pattern per mark
	paths    []string
	stats    *restore.Stats
	err      error
	finished bool
}

type restoreReport struct {
	failures []string
	notices  []string
	elapsed  time.Duration
}

// Restore events, sent from the restore goroutine.
type (
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
	}
)

// openRestore pushes the restore dialog for items.
func (a *App) openRestore(items []*mark) tea.Cmd {
	if len(items) == 0 {
		a.note("nothing marked: mark files and folders with space first")
		return nil
	}
	p := &restorePage{items: items, original: true}
	if wd, err := os.Getwd(); err == nil {
		p.folder.value = filepath.Join(wd, "restored")
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
		{"esc", "cancel the dialog, or stop a running restore"},
		{"↑/↓ pgup/pgdn", "scroll the final report"},
	}
}

func (p *restorePage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case restoreProgress:
		p.job, p.prog = msg.job, msg.p
	case restoreJobDone:
		j := &p.jobs[msg.job]
		j.stats, j.err, j.finished = msg.stats, msg.err, true
	case restoreFinished:
		p.report.failures, p.report.notices = msg.failures, msg.notices
		p.report.elapsed = time.Since(p.started)
		p.stage = stageDone
		a.restoreCancel = nil
		if p.cancel != nil {
			p.cancel()
		}
		if p.ok() {
			for _, m := range p.items {
				if a.marks.has(m.sn, m.path) {
					a.marks.toggle(m.sn, m.path, nil)
				}
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
		if !j.finished || j.err != nil {
			return false
		}
	}
	return len(p.report.failures) == 0 && !p.canceled
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

// plan groups the marks into jobs: one per snapshot, restoring the common
// folder of its marks with an Include pattern per mark.
func (p *restorePage) plan() ([]restoreJob, error) {
	var jobs []restoreJob
	idx := map[*repo.Snapshot]int{}
	for _, m := range p.items {
		i, ok := idx[m.sn]
		if !ok {
			i = len(jobs)
			idx[m.sn] = i
			jobs = append(jobs, restoreJob{sn: m.sn, sub: path.Dir(m.path)})
		}
		j := &jobs[i]
		j.sub = commonDir(j.sub, path.Dir(m.path))
		j.include = append(j.include, anchoredPattern(m.path))
		j.paths = append(j.paths, m.path)
	}
	for i := range jobs {
		j := &jobs[i]
		if p.original {
			j.target = filepath.FromSlash(j.sub)
			continue
		}
		dir := strings.TrimSpace(p.folder.value)
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
		j.target = abs
		if len(jobs) > 1 {
			// Several snapshots: one subfolder each, named by ID.
			j.target = filepath.Join(abs, j.sn.ID.Short())
		}
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
	ctx, cancel := context.WithCancel(a.ctx)
	p.cancel, a.restoreCancel = cancel, cancel
	events := make(chan any, 64)
	go runRestore(ctx, a.r, jobs, p.overwrite, events)
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

// runRestore runs the jobs one after the other, each under a shared lock,
// and reports through events, which it closes at the end.
func runRestore(ctx context.Context, r *repo.Repository, jobs []restoreJob, ow restore.Overwrite, events chan<- any) {
	defer close(events)
	var mu sync.Mutex
	var failures, notices []string
	for i, j := range jobs {
		if ctx.Err() != nil {
			events <- restoreJobDone{job: i, err: ctx.Err()}
			continue
		}
		lock, err := r.Lock(ctx, false, "tui restore")
		if err != nil {
			events <- restoreJobDone{job: i, err: err}
			continue
		}
		opt := restore.Options{Target: j.target, Include: j.include, Overwrite: ow, SkipOwner: os.Geteuid() != 0,
			Interval: 100 * time.Millisecond,
			Warn: func(p string, err error) {
				mu.Lock()
				failures = append(failures, p+": "+err.Error())
				mu.Unlock()
			},
			Notice: func(p, msg string) {
				mu.Lock()
				notices = append(notices, p+": "+msg)
				mu.Unlock()
			},
			Progress: func(pr restore.Progress) {
				select {
				case events <- restoreProgress{job: i, p: pr}:
				default: // the screen is behind: skip a frame
				}
			}}
		st, err := restore.Run(lock.Context(), r, j.sn, j.sub, opt)
		lock.Unlock()
		if st != nil {
			events <- restoreProgress{job: i, p: restore.Progress{FilesDone: st.Files, BytesDone: st.Bytes, TotalBytes: st.Bytes, WalkDone: true}}
		}
		events <- restoreJobDone{job: i, stats: st, err: err}
	}
	mu.Lock()
	events <- restoreFinished{failures: failures, notices: notices}
	mu.Unlock()
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

// anchoredPattern is an Include pattern matching exactly path p (and what
// is below it), with glob characters in names escaped.
func anchoredPattern(p string) string {
	var b strings.Builder
	for _, c := range p {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
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

func (p *restorePage) progressView(a *App, w int) string {
	var b strings.Builder
	j := p.jobs[min(p.job, len(p.jobs)-1)]
	fmt.Fprintf(&b, "%s\n\n", styleHeader.Render(fmt.Sprintf("Restoring %s of snapshot %s into %s (%d/%d)", j.sub, j.sn.ID.Short(), j.target, p.job+1, len(p.jobs))))
	frac := 0.0
	if p.prog.TotalBytes > 0 {
		frac = float64(p.prog.BytesDone) / float64(p.prog.TotalBytes)
	}
	fmt.Fprintf(&b, "%s %3.0f%%\n\n", progressBar(frac, max(10, w-10)), frac*100)
	rate := 0.0
	if s := p.prog.Elapsed.Seconds(); s > 0 {
		rate = float64(p.prog.BytesDone) / s
	}
	total := formatBytes(p.prog.TotalBytes)
	if !p.prog.WalkDone {
		total += "+"
	}
	fmt.Fprintf(&b, "%d files  %s of %s  %s/s", p.prog.FilesDone, formatBytes(p.prog.BytesDone), total, formatBytes(int64(rate)))
	if p.prog.WalkDone && p.prog.BytesDone > 0 && p.prog.BytesDone < p.prog.TotalBytes {
		eta := time.Duration(float64(p.prog.Elapsed) * float64(p.prog.TotalBytes-p.prog.BytesDone) / float64(p.prog.BytesDone))
		fmt.Fprintf(&b, "  ETA %s", formatDuration(eta))
	}
	fmt.Fprintf(&b, "  elapsed %s\n\n", formatDuration(p.prog.Elapsed))
	if p.canceled {
		b.WriteString("stopping…")
	} else {
		b.WriteString(styleDim.Render("esc stops the restore"))
	}
	return b.String()
}

// reportLines is the final report: per job what was restored where, then
// every failure and notice.
func (p *restorePage) reportLines(a *App) []string {
	var out []string
	switch {
	case p.canceled:
		out = append(out, styleError.Render("Restore stopped before the end."))
	case p.ok():
		out = append(out, styleHeader.Render(fmt.Sprintf("Restore finished in %s.", formatDuration(p.report.elapsed))))
	default:
		out = append(out, styleError.Render("Restore finished with failures."))
	}
	out = append(out, "")
	for _, j := range p.jobs {
		out = append(out, fmt.Sprintf("snapshot %s %s → %s", j.sn.ID.Short(), a.fmtTime(j.sn.Time), j.target))
		if st := j.stats; st != nil {
			out = append(out, fmt.Sprintf("  %d files, %d folders, %d links, %d others, %s; %d kept, %d errors",
				st.Files, st.Dirs, st.Links, st.Others, formatBytes(st.Bytes), st.Skipped, st.Errors))
		}
		if j.err != nil && !errors.Is(j.err, restore.ErrIncomplete) {
			out = append(out, styleError.Render("  "+j.err.Error()))
		}
		for _, m := range j.paths {
			state := "restored"
			if !j.finished || j.err != nil && !errors.Is(j.err, restore.ErrIncomplete) {
				state = "not restored"
			}
			dst := filepath.Join(j.target, filepath.FromSlash(strings.TrimPrefix(m, j.sub)))
			for _, f := range p.report.failures {
				if f == dst || strings.HasPrefix(f, dst+"/") || strings.HasPrefix(f, dst+":") {
					state = "failed"
				}
			}
			out = append(out, fmt.Sprintf("  %-12s %s", state, printable(m)))
		}
	}
	if len(p.report.failures) > 0 {
		out = append(out, "", styleError.Render(fmt.Sprintf("%d failures:", len(p.report.failures))))
		for _, f := range p.report.failures {
			out = append(out, "  "+printable(f))
		}
	}
	if len(p.report.notices) > 0 {
		out = append(out, "", fmt.Sprintf("%d notices:", len(p.report.notices)))
		for _, n := range p.report.notices {
			out = append(out, "  "+printable(n))
		}
	}
	out = append(out, "", styleDim.Render("esc closes"))
	return out
}

// progressBar draws frac (0..1) as a bar of width cells. (bubbles'
// progress needs harmonica, which the module does not require.)
func progressBar(frac float64, width int) string {
	full := int(math.Round(min(max(frac, 0), 1) * float64(width)))
	return styleMark.Render(strings.Repeat("█", full)) + styleDim.Render(strings.Repeat("░", width-full))
}
