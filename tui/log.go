package tui

import (
	"fmt"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
)

// Logger takes the repository's notices (repo.Options.Log: a stale lock
// removed when the restore takes its own, an index segment left out)
// while the TUI runs, and shows them in it: in the report of the restore
// running or just finished, else on the status line. Written to the
// terminal under the TUI, they landed over its screen, scrolled it and
// left it garbled, and were then drawn over. Before Run and after it has
// returned, they go to Else.
type Logger struct {
	Else func(msg string)

	mu   sync.Mutex
	send func(tea.Msg)
	// quiet drops notices instead of giving them to Else: those of an
	// opening the user quit, told after the TUI has gone.
	quiet bool
}

// Logf is a repo.Options.Log.
func (l *Logger) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	send, quiet := l.send, l.quiet
	l.mu.Unlock()
	if quiet {
		return
	}
	if send != nil {
		send(repoLog(msg))
		return
	}
	if l.Else != nil {
		l.Else(msg)
	}
}

func (l *Logger) attach(p *tea.Program) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p == nil {
		l.send = nil
		return
	}
	// Not from the caller's goroutine: a notice logged in an Update
	// would wait for the event loop it holds.
	l.send = func(m tea.Msg) { go p.Send(m) }
}

// hush drops the notices logged until the returned function is called.
func (l *Logger) hush() (unhush func()) {
	if l == nil {
		return func() {}
	}
	l.mu.Lock()
	l.quiet = true
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.quiet = false
		l.mu.Unlock()
	}
}

// repoLog is a notice of the repository's.
type repoLog string

// showLog shows a notice of the repository's.
func (a *App) showLog(msg string) {
	if p := a.runningRestore(); p != nil {
		p.logs = append(p.logs, msg)
		return
	}
	if p, ok := a.top().(*restorePage); ok && p.stage == stageDone {
		p.report.notices = append(p.report.notices, msg)
		return
	}
	a.note("%s", msg)
}
