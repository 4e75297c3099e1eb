// Package noquery stops Bubble Tea from querying the terminal for its
// background colour when cairn starts.
//
// bubbletea's init asks Lip Gloss whether the background is dark, which on
// a terminal writes OSC 11 and a cursor position query to standard output
// and waits up to 5 seconds for the answer. Every cairn command links the
// TUI, so every one of them (cairn version, cairn snapshots, cairn ingest)
// did that whenever standard output was a terminal: a pseudo-terminal
// nobody answers (script(1), docker run -t, an expect or CI session
// recording a pty) got escape sequences in its log and a 5 s pause per
// command. Nothing in cairn's TUI uses adaptive colours, so the answer is
// never needed: this package sets it before bubbletea's init runs.
//
// Go initializes packages in import path order among those whose imports
// are ready: this one imports only lipgloss, which bubbletea imports too,
// and github.com/cairn-backup sorts before github.com/charmbracelet, so its
// init runs first. The tui package imports it, and so every cairn command.
package noquery

import "github.com/charmbracelet/lipgloss"

func init() {
	lipgloss.SetHasDarkBackground(true)
}
