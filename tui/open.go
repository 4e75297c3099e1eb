package tui

import (
	"context"
	"fmt"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
)

// Opener opens the repository while the TUI is up: the key, the local
// index (minutes on a first run against a big repository, or when
// another process holds the shared one and a private one is built). It
// tells step what it does (repo.Options.Progress) and returns the
// repository and, when one was asked for, the snapshot to open at once
// (Options.Snapshot). It must give up soon once ctx ends.
type Opener func(ctx context.Context, step func(name string, done, total int)) (r *repo.Repository, snapshot string, err error)

// RunOpening is Run for a repository not yet open: the screen comes up
// at once and says what open is doing, with its progress, instead of
// staying blank; q and ctrl+c quit meanwhile (the opening is stopped and
// waited for). An error of open ends the program and is returned. The
// repository is closed when the program ends.
func RunOpening(ctx context.Context, open Opener, opt Options) error {
	a := New(ctx, nil, opt)
	o := &opening{open: open, done: make(chan struct{})}
	a.opening = o
	input, stopInput := terminalInput()
	err := run(ctx, a, stopInput, append(input, tea.WithAltScreen())...)
	select {
	case <-o.done:
	default:
		// Quit while it opened: what the opening still says as it
		// stops (a busy local index, once its wait ends) is of a run
		// the user left, and would be written under the shell's
		// prompt after the screen is gone.
		defer opt.Log.hush()()
	}
	r, oerr := o.stop()
	if r != nil {
		r.Close()
	}
	if err == nil {
		err = oerr
	}
	return err
}

// opening is a repository being opened by an Opener.
type opening struct {
	open Opener
	done chan struct{} // closed when open has returned

	mu               sync.Mutex
	started, stopped bool
	cancel           context.CancelFunc
	name             string
	doneN, total     int
	r                *repo.Repository
	snapshot         string
	err              error
}

// opened says that the Opener returned (opening holds what).
type opened struct{}

// start is the command that opens the repository.
func (o *opening) start(ctx context.Context) tea.Cmd {
	ctx, cancel := context.WithCancel(ctx)
	return func() tea.Msg {
		o.mu.Lock()
		if o.stopped { // the program ended before the command ran
			o.mu.Unlock()
			cancel()
			return nil
		}
		o.started, o.cancel = true, cancel
		o.mu.Unlock()
		r, sel, err := o.open(ctx, o.step)
		o.mu.Lock()
		o.r, o.snapshot, o.err = r, sel, err
		o.mu.Unlock()
		close(o.done)
		return opened{}
	}
}

// stop ends an opening still running, waits for it and returns what it
// gave: the repository to close, and the error of an opening that ended
// on its own.
func (o *opening) stop() (*repo.Repository, error) {
	o.mu.Lock()
	o.stopped = true
	started, cancel := o.started, o.cancel
	o.mu.Unlock()
	if !started {
		return nil, nil
	}
	select {
	case <-o.done:
	default:
		// Quit while it opened: its error is only the cancel's. A step
		// that does not heed the cancel (a copy of the published local
		// index that is a fifo, a storage that does not answer) is not
		// waited for past openingGrace: the user quit, and the process
		// ends under it, as on a crash, which leaves at most a private
		// index in the temporary folder. Before, cairn tui never exited.
		cancel()
		select {
		case <-o.done:
		case <-time.After(openingGrace):
			return nil, nil
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.r, nil
	}
	cancel()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.r, o.err
}

// openingGrace is how long an opening the user quit is waited for.
var openingGrace = 2 * time.Second

// step is the Opener's progress.
func (o *opening) step(name string, done, total int) {
	o.mu.Lock()
	o.name, o.doneN, o.total = name, done, total
	o.mu.Unlock()
}

// line says what the opening does now: "reading index segments 120/3000 (4%)".
func (o *opening) line() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := "opening the repository"
	if o.name != "" {
		s += ": " + o.name
	}
	if o.total > 0 {
		s += fmt.Sprintf(" %d/%d (%d%%)", o.doneN, o.total, o.doneN*100/o.total)
	}
	return s + "…"
}

// openingView is the body while the repository opens: the step, the last
// notice (a busy local index, say), and how to quit.
func (a *App) openingView(w int) string {
	s := printable(a.opening.line()) + "\n"
	if a.status != "" {
		s += "\n" + wrapText(a.status, w) + "\n"
	}
	return s + "\n" + styleDim.Render("q or ctrl+c quits")
}

// wrapText breaks s into lines of w cells.
func wrapText(s string, w int) string {
	out := ""
	for i, l := range wrapReport(s, w, "") {
		if i > 0 {
			out += "\n"
		}
		out += l
	}
	return out
}
