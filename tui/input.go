package tui

import (
	"errors"
	"io"
	"os"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/cancelreader"
	"golang.org/x/term"
)

// An Alt (Meta) key reaches the TUI as an escape and the key, and so does
// an escape typed before a key: the bytes are the same, only their timing
// differs. A terminal writes the two bytes of an Alt key at once; a
// person's escape and next key are tens of milliseconds apart at least.
//
// bubbletea tells them apart by what one read of the terminal returns:
// "\x1bj" in one read is alt+j. But it reads only when its event loop has
// taken the previous key, so while the screen is busy (drawing a big
// folder) an escape and the key typed after it wait in the terminal
// together and read as alt+j. Taking every alt+key for the two keys it
// might have been kept those escapes, but made a real Alt key an escape:
// alt+b in the restore dialog's folder field closed the dialog and lost
// what was typed.
//
// burstInput keeps the timing instead: a goroutine of its own reads the
// terminal at all times, whatever the event loop does, and hands bubbletea
// what each read returned, one read at a time. An escape typed apart from
// the next key is then read apart and stays an escape however busy the
// screen is, and alt+key is what the terminal sent as one, a real Alt
// key, which the TUI never takes for an escape (a text field deletes a
// word on alt+backspace and ignores the others; elsewhere they do
// nothing). The trade-off: an escape and a key that reach the terminal
// within the same instant (a link that delivers keystrokes in batches, a
// machine so loaded this goroutine waited) read as alt+key, and that
// escape does nothing; pressed again it works. Nothing typed is lost
// either way.
//
// It reads the terminal until stopped, whatever bubbletea does: the TUI
// must not give the terminal to another program while it runs
// (tea.ExecProcess for a pager or an editor, ReleaseTerminal, Suspend),
// or this goroutine would take that program's keys. None does today; one
// that must would stop it first and start a new one after.
type burstInput struct {
	f  *os.File
	cr cancelreader.CancelReader

	mu     sync.Mutex
	more   *sync.Cond
	bursts [][]byte
	reads  int // reads of the terminal that returned bytes (tests)
	err    error
}

// newBurstInput starts reading f. Stop ends it.
func newBurstInput(f *os.File) (*burstInput, error) {
	cr, err := cancelreader.NewReader(f)
	if err != nil {
		return nil, err
	}
	in := &burstInput{f: f, cr: cr}
	in.more = sync.NewCond(&in.mu)
	go in.loop()
	return in, nil
}

func (in *burstInput) loop() {
	for {
		buf := make([]byte, 256)
		n, err := in.cr.Read(buf)
		in.mu.Lock()
		if n > 0 {
			in.bursts = append(in.bursts, buf[:n])
			in.reads++
		}
		if err != nil {
			if errors.Is(err, cancelreader.ErrCanceled) {
				err = io.EOF
			}
			in.err = err
		}
		in.more.Broadcast()
		in.mu.Unlock()
		if err != nil {
			in.cr.Close()
			return
		}
	}
}

// Read returns the bytes of one read of the terminal (or the start of
// them, when p is short), waiting for one if none is pending.
func (in *burstInput) Read(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.bursts) == 0 && in.err == nil {
		in.more.Wait()
	}
	if len(in.bursts) == 0 {
		return 0, in.err
	}
	n := copy(p, in.bursts[0])
	if n < len(in.bursts[0]) {
		in.bursts[0] = in.bursts[0][n:]
	} else {
		in.bursts = in.bursts[1:]
	}
	return n, nil
}

// pending is how many reads wait to be taken (tests).
func (in *burstInput) pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.bursts)
}

// readCount is how many reads of the terminal returned bytes (tests).
func (in *burstInput) readCount() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.reads
}

// Write, Close and Fd make it a terminal to bubbletea, which puts the
// terminal in raw mode and back. There is no Name: bubbletea's own
// cancelable reader would then watch the descriptor itself, and read it
// behind this one's back.
func (in *burstInput) Write(p []byte) (int, error) { return in.f.Write(p) }
func (in *burstInput) Close() error                { return nil }
func (in *burstInput) Fd() uintptr                 { return in.f.Fd() }

// terminalInput is the program option that reads standard input as a
// burstInput when it is a terminal, and the function that stops it, to
// call as soon as the program has ended: it reads the terminal until
// then, and a key typed at the shell's prompt meanwhile would be lost.
// Standard input that is no terminal (cairn tui </dev/null, a pipe) is
// left to bubbletea, which then reads /dev/tty: read here, its end of
// file would leave the TUI without keys.
func terminalInput() ([]tea.ProgramOption, func()) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, func() {}
	}
	in, err := newBurstInput(os.Stdin)
	if err != nil {
		return nil, func() {} // bubbletea reads it itself
	}
	return []tea.ProgramOption{tea.WithInput(in)}, in.Stop
}

// Stop ends the reading: Read returns io.EOF once the reads pending are
// taken.
func (in *burstInput) Stop() {
	in.cr.Cancel()
}
