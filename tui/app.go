package tui

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
	// Before bubbletea's init: no terminal query at start (see its doc).
	_ "github.com/cairn-backup/cairn/tui/noquery"
)

// Options say how the browser starts.
type Options struct {
	// Snapshot, when set, opens that snapshot's tree at once: "latest" or
	// an ID prefix, optionally followed by ":/path" (without one, the tree
	// opens in the folder the snapshot holds, as enter on the list).
	Snapshot string
	// Location is the time zone times are shown in (default time.Local).
	Location *time.Location
	// NoLock restores without taking the repository's shared lock, for a
	// repository on storage this user cannot write (cairn --no-lock).
	NoLock bool
	// Log, when set, is the repo.Options.Log of the repository: the
	// notices it takes while the TUI runs are shown in the TUI.
	Log *Logger
}

// Run shows the browser on the terminal until the user quits or ctx ends.
func Run(ctx context.Context, r *repo.Repository, opt Options) error {
	input, stopInput := terminalInput()
	return run(ctx, New(ctx, r, opt), stopInput, append(input, tea.WithAltScreen())...)
}

// run runs a, made with ctx, as a program with opts until the user quits
// or ctx ends, and returns once no restore it started is running.
// stopInput is called as soon as the program has ended, before that wait.
func run(ctx context.Context, a *App, stopInput func(), opts ...tea.ProgramOption) error {
	defer a.cancelRestore()
	// No signal handler of bubbletea's: the caller's ctx ends on SIGINT
	// and SIGTERM (cairn's main cancels it), and ends the program. With
	// both, a SIGTERM could end the event loop through ctx while
	// bubbletea's handler waited forever to send it a QuitMsg: the
	// process hung in its shutdown, terminal still in raw mode.
	p := tea.NewProgram(a, append(opts, tea.WithContext(ctx), tea.WithoutSignalHandler())...)
	a.opt.Log.attach(p)
	_, err := p.Run()
	// The terminal is the shell's again: no more reading it while a
	// restore winds down below, or the keys typed at the prompt then
	// would be taken.
	stopInput()
	a.opt.Log.attach(nil)
	// A restore still running (a signal, a second ctrl+c) is stopped and
	// waited for: ending the process under it would leave a file it had
	// begun under its name, and its lock in the repository.
	a.cancelRestore()
	for _, events := range a.restoreEvents {
		for range events {
		}
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil && a.interrupted {
		return ErrInterrupted
	}
	return err
}

// ErrInterrupted is what Run and RunOpening return when the user quit
// with ctrl+c: in raw mode it is a key, not the SIGINT it is in a shell,
// but it means the same (cairn exits 130 on it, as fzf does; q exits 0).
var ErrInterrupted = errors.New("interrupted (ctrl+c)")

// page is one screen of the stack. Pages are pointers; an answer to a load
// is delivered to the page that asked, if it is still on the stack.
type page interface {
	title() string
	// update handles keys and the page's own messages.
	update(a *App, msg tea.Msg) tea.Cmd
	// view draws the page into w×h cells.
	view(a *App, w, h int) string
	help() []binding
	// typing reports that a text field has the keyboard: global keys are
	// off and every key goes to the page.
	typing() bool
	// back handles q/esc itself (clearing a filter, say) and reports
	// whether it did; otherwise the page is closed.
	back(a *App) bool
}

// pageMsg carries the result of a page's command back to it.
type pageMsg struct {
	to   page
	body any
	load bool // counted in App.busy
}

// App is the root model: a stack of pages, the marks, the help overlay,
// the spinner and the status line.
type App struct {
	ctx   context.Context
	r     *repo.Repository
	opt   Options
	loc   *time.Location
	w, h  int
	stack []page

	showHelp bool
	helpTop  int // the first help line shown when it does not fit
	spin     spinner.Model
	busy     int
	status   string
	statusOK bool

	marks  marks
	sizes  *sizeCache
	static bool // tests: no spinner ticks
	// restoreCancel stops a running restore (quit, ctrl+c).
	restoreCancel context.CancelFunc
	// restoreEvents are the event channels of the restores started, each
	// closed when its restore has ended (its lock released, its
	// unfinished files removed): Run waits for them before it returns.
	restoreEvents []chan any
	// asking is a yes/no question on the status line: the next key
	// answers it (y runs it), whatever the page.
	asking *question
	// opening opens the repository (RunOpening); r is nil until it has.
	opening *opening
	// stops cancels, for a page on the stack, the work started with
	// loadStoppable: leaving the page stops it.
	stops map[page]context.CancelFunc
	// interrupted says the program ended on ctrl+c (ErrInterrupted).
	interrupted bool
}

// question waits for y or n before doing something that cannot be undone.
type question struct {
	prompt string
	// key answers yes ("y" when empty); any other key answers no.
	key string
	yes func(a *App) tea.Cmd
}

// answers reports whether k says yes.
func (q *question) answers(k string) bool {
	if q.key != "" {
		return k == q.key
	}
	return k == "y" || k == "Y"
}

// New builds the root model; its Init loads the snapshot list.
func New(ctx context.Context, r *repo.Repository, opt Options) *App {
	loc := opt.Location
	if loc == nil {
		loc = time.Local
	}
	a := &App{ctx: ctx, r: r, opt: opt, loc: loc, w: 80, h: 24, sizes: newSizeCache()}
	a.spin = spinner.New(spinner.WithSpinner(spinner.Dot))
	a.stack = []page{newSnapshotsPage(loc)}
	return a
}

// Init starts the first load, or the opening of the repository.
func (a *App) Init() tea.Cmd {
	if a.r == nil && a.opening != nil {
		a.busy++
		if a.static {
			return a.opening.start(a.ctx)
		}
		return tea.Batch(a.opening.start(a.ctx), a.spin.Tick)
	}
	return a.stack[0].(*snapshotsPage).reload(a)
}

func (a *App) top() page { return a.stack[len(a.stack)-1] }

// push opens p on top; start is its first command.
func (a *App) push(p page, start tea.Cmd) tea.Cmd {
	a.stack = append(a.stack, p)
	a.showHelp = false
	return start
}

func (a *App) pop() {
	if len(a.stack) > 1 {
		p := a.stack[len(a.stack)-1]
		a.stack = a.stack[:len(a.stack)-1]
		if stop := a.stops[p]; stop != nil {
			stop()
			delete(a.stops, p)
		}
	}
}

func (a *App) alive(p page) bool {
	for _, x := range a.stack {
		if x == p {
			return true
		}
	}
	return false
}

// load runs fn in a command and delivers its result to p, with the
// spinner turning meanwhile.
func (a *App) load(p page, fn func(ctx context.Context) any) tea.Cmd {
	a.busy++
	ctx := a.ctx
	cmd := func() tea.Msg { return pageMsg{to: p, body: fn(ctx), load: true} }
	if a.busy == 1 && !a.static {
		return tea.Batch(cmd, a.spin.Tick)
	}
	return cmd
}

// loadStoppable is load for work of no use once p is left (a search
// over many snapshots, a diff): leaving p cancels it, and so does the
// next loadStoppable of p (a new search replaces the one running). Run
// with the app's context, it read the repository on, unseen, until it
// ended.
func (a *App) loadStoppable(p page, fn func(ctx context.Context) any) tea.Cmd {
	if stop := a.stops[p]; stop != nil {
		stop()
	}
	if a.stops == nil {
		a.stops = map[page]context.CancelFunc{}
	}
	ctx, cancel := context.WithCancel(a.ctx)
	a.stops[p] = cancel
	return a.load(p, func(context.Context) any {
		defer cancel()
		return fn(ctx)
	})
}

// fail shows err on the status line.
func (a *App) fail(err error) {
	a.status, a.statusOK = printable(err.Error()), false
}

// note shows a notice on the status line. Both escape what they show, as
// names are escaped everywhere: a name or an error naming a file may
// hold a line feed or a terminal escape.
func (a *App) note(format string, args ...any) {
	a.status, a.statusOK = printable(fmt.Sprintf(format, args...)), true
}

// clearMarks clears the marks, asking first when there are several.
func (a *App) clearMarks() {
	clear := func(a *App) tea.Cmd {
		a.marks.clear()
		a.note("marks cleared")
		return nil
	}
	switch n := a.marks.count(); {
	case n == 0:
		a.note("nothing marked")
	case n == 1:
		clear(a)
	default:
		a.asking = &question{prompt: "clear " + plural(n, "mark", "marks") + "? y/n", yes: clear}
	}
}

// quit ends the program, asking first when entries are marked: marks
// live only in this session, and a stray q would lose them unseen.
// ctrl+c does not ask.
func (a *App) quit() tea.Cmd {
	n := a.marks.count()
	if n == 0 {
		return tea.Quit
	}
	a.asking = &question{
		prompt: plural(n, "marked entry", "marked entries") + " will be lost: q again to quit, any other key to stay",
		key:    "q",
		yes:    func(*App) tea.Cmd { return tea.Quit },
	}
	return nil
}

// runningRestore is the restore page whose restore is running, if any.
func (a *App) runningRestore() *restorePage {
	for _, p := range a.stack {
		if rp, ok := p.(*restorePage); ok && rp.stage == stageRunning {
			return rp
		}
	}
	return nil
}

func (a *App) cancelRestore() {
	if a.restoreCancel != nil {
		a.restoreCancel()
	}
}

// Update routes messages: keys to the help overlay, global keys or the top
// page; results to the page that asked.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.w, a.h = msg.Width, msg.Height
		return a, nil
	case spinner.TickMsg:
		if a.busy == 0 {
			return a, nil
		}
		var cmd tea.Cmd
		a.spin, cmd = a.spin.Update(msg)
		return a, cmd
	case pageMsg:
		if msg.load {
			a.busy--
		}
		c, isChain := msg.body.(chained)
		if !a.alive(msg.to) {
			if isChain {
				return a, c.next // keep draining a stream nobody shows
			}
			return a, nil
		}
		if isChain {
			return a, tea.Batch(msg.to.update(a, c.msg), c.next)
		}
		return a, msg.to.update(a, msg.body)
	case opened:
		a.busy--
		o := a.opening
		o.mu.Lock()
		r, sel, err := o.r, o.snapshot, o.err
		o.mu.Unlock()
		if err != nil {
			return a, tea.Quit // RunOpening returns err
		}
		a.r, a.opt.Snapshot, a.status = r, sel, ""
		return a, a.Init()
	case tea.KeyMsg:
		return a, a.key(msg)
	case repoLog:
		a.showLog(string(msg))
		return a, nil
	}
	return a, nil
}

// typingNow reports that keys go to a text field as text.
func (a *App) typingNow() bool { return !a.showHelp && a.top().typing() }

func (a *App) key(msg tea.KeyMsg) tea.Cmd {
	// An alt+key is a real Alt key (see burstInput): a text field may
	// take it (alt+backspace), nothing else does. Never an escape: the
	// escape of alt+b closed the restore dialog and lost the folder
	// typed in it.
	if msg.Type == tea.KeyCtrlC {
		msg.Alt = false // escape, ctrl+c: still quits
	}
	if msg.Alt && !msg.Paste {
		if a.r != nil && a.asking == nil && a.typingNow() {
			return a.top().update(a, msg)
		}
		return nil
	}
	// bubbletea reports runes read together as one message ("jjj" when
	// j is held down over a slow link, or keys typed ahead while the
	// screen is busy): unless a field takes them as text, they are keys,
	// one at a time.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !a.typingNow() {
		var cmds []tea.Cmd
		for i, r := range msg.Runes {
			if a.typingNow() { // a key opened a field: the rest is text
				cmds = append(cmds, a.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[i:]}))
				break
			}
			cmds = append(cmds, a.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
		}
		return tea.Batch(cmds...)
	}
	k := msg.String()
	if a.r == nil {
		// Opening: nothing to browse yet, only quitting.
		if k == "ctrl+c" || k == "q" {
			a.interrupted = k == "ctrl+c"
			return tea.Quit
		}
		return nil
	}
	if k == "ctrl+c" {
		// A running restore is stopped first, so that its report names
		// what it left half written; a second ctrl+c quits at once.
		if p := a.runningRestore(); p != nil && !p.canceled {
			a.showHelp, a.asking = false, nil
			p.stop() // the progress says it is stopping
			return nil
		}
		a.cancelRestore()
		a.interrupted = true
		return tea.Quit
	}
	if q := a.asking; q != nil {
		a.asking, a.status = nil, ""
		if q.answers(k) {
			return q.yes(a)
		}
		return nil // any other key only dismisses the question
	}
	if a.showHelp {
		n := len(a.helpLines())
		room := a.helpRoom(n)
		switch {
		case k == "?" || k == "esc" || k == "q":
			a.showHelp = false
		case isDown(k):
			a.helpTop++
		case isUp(k):
			a.helpTop--
		case isPgDown(k):
			a.helpTop += room
		case isPgUp(k):
			a.helpTop -= room
		case isHome(k):
			a.helpTop = 0
		case isEnd(k):
			a.helpTop = n
		}
		a.helpTop = max(0, min(a.helpTop, n-room))
		return nil
	}
	top := a.top()
	if !top.typing() {
		switch k {
		case "?":
			a.showHelp, a.helpTop = true, 0
			return nil
		case "q", "esc":
			a.status = ""
			if top.back(a) {
				return nil
			}
			if len(a.stack) == 1 {
				if k == "q" {
					return a.quit()
				}
				return nil
			}
			a.pop()
			return nil
		case "R":
			if _, ok := top.(*restorePage); !ok {
				return a.openRestore(a.marks.list())
			}
		case "M":
			a.clearMarks()
			return nil
		}
	}
	return top.update(a, msg)
}

// View draws the title line, the top page (or the help) and the status
// line, in exactly a.h lines.
func (a *App) View() string {
	w, _ := a.size()
	var crumbs []string
	for _, p := range a.stack {
		if t := p.title(); t != "" {
			crumbs = append(crumbs, t)
		}
	}
	right := ""
	if n := a.marks.count(); n > 0 {
		right = fmt.Sprintf(" %d marked ", n)
	}
	title := styleTitle.Render(fitLeft("cairn › "+strings.Join(crumbs, " › "), w-len(right))) + styleMark.Render(right)
	bodyH := a.bodyHeight()
	var body string
	if a.r == nil && a.opening != nil {
		body = a.openingView(w)
	} else if a.showHelp {
		body = lipgloss.Place(w, bodyH, lipgloss.Center, lipgloss.Center, a.helpView())
	} else {
		body = a.top().view(a, w, bodyH)
	}
	return title + "\n" + block(body, w, bodyH) + "\n" + a.statusLine(w)
}

func (a *App) statusLine(w int) string {
	left := ""
	switch {
	case a.asking != nil:
		left = a.asking.prompt
	case a.busy > 0:
		left = a.spin.View() + " loading…"
	case a.status != "" && a.statusOK:
		left = a.status
	case a.status != "":
		left = styleError.Render(fit(a.status, w-10))
	}
	hint := "? help"
	return fit(left, w-len(hint)) + styleDim.Render(hint)
}

// size is the screen's size as View draws it.
func (a *App) size() (w, h int) { return max(a.w, 20), max(a.h, 5) }

// listHeight is how many rows a list page draws: the body (the screen
// less the title and status lines) less the page's two header lines. Key
// handlers move the cursor by it, so that the cursor reaches the last row
// drawn before the list scrolls.
func (a *App) listHeight() int {
	_, h := a.size()
	return max(1, h-2-2)
}

// bodyHeight is the height a page's view is given.
func (a *App) bodyHeight() int {
	_, h := a.size()
	return h - 2
}

// helpRoom is how many of the help's n lines the overlay shows at once:
// the body less the box's border, and less one more for the scroll hint
// when the help does not fit.
func (a *App) helpRoom(n int) int {
	_, h := a.size()
	room := max(1, h-2-2)
	if n > room {
		room = max(1, room-1)
	}
	return room
}

// helpView is the help overlay: all of it, or on a short screen the
// lines from helpTop on and a hint saying how to see the rest.
func (a *App) helpView() string {
	lines := a.helpLines()
	room := a.helpRoom(len(lines))
	if len(lines) <= room {
		return styleBox.Render(strings.Join(lines, "\n"))
	}
	top := max(0, min(a.helpTop, len(lines)-room))
	w, _ := a.size()
	hint := fmt.Sprintf("%d-%d of %d, j/k scroll", top+1, top+room, len(lines))
	shown := append(slices.Clip(lines[top:top+room]), styleDim.Render(fit(hint, max(12, w-4))))
	return styleBox.Render(strings.Join(shown, "\n"))
}

// helpLines is the help overlay's text, wrapped to the screen's width:
// the top page's keys, then those that work everywhere.
func (a *App) helpLines() []string {
	w, _ := a.size()
	var b strings.Builder
	// The box's border and padding take 4 cells, the keys column 27: the
	// help wraps in what is left. Below 16 cells of help per line (under
	// 47 columns) the keys get a line of their own and the help wraps
	// under them, so a narrow screen still shows all of it.
	inner := max(12, w-4)
	helpW := inner - 27
	show := func(x binding) {
		for i, l := range wrapWords(x.help, helpW) {
			keys := ""
			if i == 0 {
				keys = x.keys
			}
			fmt.Fprintf(&b, "  %-24s %s\n", keys, l)
		}
	}
	if helpW < 16 {
		show = func(x binding) {
			for _, l := range wrapWords(x.keys, inner-2) {
				fmt.Fprintf(&b, "  %s\n", l)
			}
			for _, l := range wrapWords(x.help, inner-4) {
				fmt.Fprintf(&b, "    %s\n", l)
			}
		}
	}
	section := func(name string, bs []binding) {
		for _, l := range strings.Split(wrapCells(name, inner), "\n") { // a long path too
			b.WriteString(styleHeader.Render(l) + "\n")
		}
		for _, x := range bs {
			show(x)
		}
	}
	section(a.top().title()+" keys", a.top().help())
	section("everywhere", globalKeys)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// block cuts or pads s to exactly h lines of w cells.
func block(s string, w, h int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = fit(l, w)
	}
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return strings.Join(lines, "\n")
}

// fmtTime shows a snapshot or file time in the App's zone.
func (a *App) fmtTime(t time.Time) string {
	return t.In(a.loc).Format("2006-01-02 15:04:05")
}

func (a *App) fmtNano(ns int64) string { return a.fmtTime(time.Unix(0, ns)) }

// markKey names one marked path of one snapshot.
type markKey struct {
	snap string
	path string
}

// mark is a file or folder chosen for restore.
type mark struct {
	sn   *repo.Snapshot
	path string // absolute inside the snapshot: "/home/alice/notes"
	node *tree.Node
}

// marks keeps the marked paths in the order they were marked.
type marks struct {
	set   map[markKey]*mark
	order []markKey
}

func (m *marks) toggle(sn *repo.Snapshot, p string, n *tree.Node) bool {
	if m.set == nil {
		m.set = map[markKey]*mark{}
	}
	k := markKey{sn.ID.String(), p}
	if _, ok := m.set[k]; ok {
		delete(m.set, k)
		for i, x := range m.order {
			if x == k {
				m.order = append(m.order[:i], m.order[i+1:]...)
				break
			}
		}
		return false
	}
	m.set[k] = &mark{sn: sn, path: path.Clean(p), node: n}
	m.order = append(m.order, k)
	return true
}

func (m *marks) has(sn *repo.Snapshot, p string) bool {
	_, ok := m.set[markKey{sn.ID.String(), p}]
	return ok
}

func (m *marks) count() int { return len(m.order) }

func (m *marks) list() []*mark {
	out := make([]*mark, 0, len(m.order))
	for _, k := range m.order {
		out = append(out, m.set[k])
	}
	return out
}

func (m *marks) clear() { m.set, m.order = nil, nil }

// wrapWords breaks s into lines of at most width cells, at spaces.
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	return append(lines, line)
}
