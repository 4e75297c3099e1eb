package tui

import "github.com/charmbracelet/lipgloss"

// Shared styles. Every screen also works without colour: the cursor row
// carries a ">" and marked entries a "*", so plain-text goldens show them.
var (
	styleTitle    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12"))
	styleHeader   = lipgloss.NewStyle().Bold(true)
	styleSelected = lipgloss.NewStyle().Reverse(true)
	styleDim      = lipgloss.NewStyle().Faint(true)
	styleError    = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
	styleGroup    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11"))
	styleMark     = lipgloss.NewStyle().Foreground(lipgloss.Color("10")).Bold(true)
	styleBox      = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1)
	styleKind     = map[string]lipgloss.Style{
		"+": lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		"-": lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		"M": lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
		"U": lipgloss.NewStyle().Foreground(lipgloss.Color("14")),
		"T": lipgloss.NewStyle().Foreground(lipgloss.Color("13")),
	}
)
