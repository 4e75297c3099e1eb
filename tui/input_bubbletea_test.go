package tui

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"golang.org/x/sys/unix"
)

// keyLog is a model that records the keys bubbletea gives it and the
// terminal's mode when each came, and blocks on its first key until
// released: the event loop is busy, as while a big folder is drawn.
type keyLog struct {
	tty      *os.File
	first    chan struct{}
	release  chan struct{}
	keys     []string
	canon    []bool
	want     int
	gotFirst bool
}

func (m *keyLog) Init() tea.Cmd { return nil }
func (m *keyLog) View() string  { return "" }
func (m *keyLog) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	m.keys = append(m.keys, k.String())
	m.canon = append(m.canon, !isRaw(m.tty))
	if !m.gotFirst {
		m.gotFirst = true
		close(m.first)
		<-m.release
	}
	if len(m.keys) == m.want {
		return m, tea.Quit
	}
	return m, nil
}

func isRaw(f *os.File) bool {
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil && tio.Lflag&unix.ICANON == 0
}

// burstInput relies on what bubbletea v1 does with a custom input: it
// puts it in raw mode because it has Fd() (term.File), and reads it only
// through its Read because it has no Name() (else bubbletea's own
// cancelreader would wait on the descriptor, which this goroutine has
// already emptied, and hang). This runs the real bubbletea on a
// pseudo-terminal, its event loop busy while an escape, a j and an
// alt+b are typed apart: it must get the three keys as they were typed,
// in raw mode, and give the terminal back as it found it. An upgrade of
// bubbletea that changes either assumption fails here.
func TestBurstInputUnderBubbletea(t *testing.T) {
	master, slave := openTestPty(t)
	in, err := newBurstInput(slave)
	if err != nil {
		t.Fatal(err)
	}
	m := &keyLog{tty: slave, first: make(chan struct{}), release: make(chan struct{}), want: 4}
	p := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	waitUntil(t, "bubbletea puts the terminal in raw mode", func() bool { return isRaw(slave) })
	master.Write([]byte("a"))
	<-m.first // the event loop is now busy on a
	for i, b := range []string{"\x1b", "j", "\x1bb"} {
		master.Write([]byte(b))
		waitUntil(t, fmt.Sprintf("read %d of the terminal", i+2), func() bool { return in.readCount() == i+2 })
	}
	close(m.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		p.Kill()
		t.Fatalf("bubbletea did not get the keys (it got %q): does it read the terminal behind burstInput's back?", m.keys)
	}
	if got := fmt.Sprint(m.keys); got != "[a esc j alt+b]" {
		t.Errorf("keys %s, want [a esc j alt+b]", got)
	}
	for i, c := range m.canon {
		if c {
			t.Errorf("key %d came with the terminal not in raw mode", i)
		}
	}
	if isRaw(slave) {
		t.Error("the terminal is still in raw mode after the program")
	}
	in.Stop()
	buf := make([]byte, 8)
	if n, err := in.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("after Stop: %d, %v; want the reading ended (EOF)", n, err)
	}
	// Stopped, it reads no more: a key typed then is left for the shell.
	master.Write([]byte("x\n")) // the terminal is line by line again
	n, err := unix.Read(int(slave.Fd()), buf)
	if string(buf[:max(n, 0)]) != "x\n" {
		t.Errorf("the key typed after Stop: %q, %v", buf[:max(n, 0)], err)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func openTestPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}
