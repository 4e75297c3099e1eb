package tui

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Preview limits: text is shown up to textLimit bytes, binary files as a
// hex dump of their first hexLimit bytes.
const (
	textLimit = 1 << 20
	hexLimit  = 64 << 10
)

// previewPage shows one file (or symlink, or special file) in full: its
// metadata and its content in a scrollable viewport.
type previewPage struct {
	sn      *repo.Snapshot
	path    string
	node    *tree.Node
	vp      viewport.Model
	loading bool
	data    []byte
	err     error
	ready   bool
}

// openPreview pushes the preview of node n at p in sn.
func (a *App) openPreview(sn *repo.Snapshot, p string, n *tree.Node) tea.Cmd {
	pg := &previewPage{sn: sn, path: p, node: n, vp: viewport.New(a.w, max(1, a.h-4))}
	var cmd tea.Cmd
	if n.Kind == tree.KindFile && n.Size > 0 {
		pg.loading = true
		r := a.r
		cmd = a.load(pg, func(ctx context.Context) any {
			b, err := readHead(ctx, r, n, textLimit)
			return headLoaded{node: n, data: b, err: err}
		})
	}
	pg.setContent(a)
	return a.push(pg, cmd)
}

func (p *previewPage) title() string    { return "preview " + printable(p.path) }
func (p *previewPage) typing() bool     { return false }
func (p *previewPage) back(a *App) bool { return false }

func (p *previewPage) help() []binding {
	return []binding{
		{"↑/k ↓/j", "scroll a line"},
		{"pgup/b pgdn/f/space", "scroll a page"},
		{"u d", "scroll half a page"},
		{"g G", "top / bottom"},
		{"v", "versions of this file"},
		{"m", "mark (or unmark) this file for restore"},
	}
}

func (p *previewPage) setContent(a *App) {
	var b strings.Builder
	b.WriteString(nodeDetails(a, p.node))
	b.WriteString("\n")
	switch {
	case p.err != nil:
		b.WriteString(styleError.Render(p.err.Error()) + "\n")
	case p.loading:
		b.WriteString(styleDim.Render("loading…") + "\n")
	case p.node.Kind == tree.KindFile && p.node.Size > 0:
		b.WriteString(renderContent(p.data, p.vp.Width, true))
		shown := len(p.data)
		if !isText(p.data) {
			shown = min(shown, hexLimit) // the hex dump's part of what was read
		}
		if int64(shown) < int64(p.node.Size) {
			b.WriteString(styleDim.Render(fmt.Sprintf("… first %s of %s shown", formatBytes(int64(shown)), formatBytes(int64(p.node.Size)))) + "\n")
		}
	}
	p.vp.SetContent(strings.TrimSuffix(b.String(), "\n"))
}

func (p *previewPage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case headLoaded:
		p.loading, p.data, p.err = false, msg.data, msg.err
		p.setContent(a)
	case tea.KeyMsg:
		switch msg.String() {
		case "g", "home":
			p.vp.GotoTop()
			return nil
		case "G", "end":
			p.vp.GotoBottom()
			return nil
		case "v":
			return a.openVersions(p.sn, p.path)
		case "m":
			a.marks.toggle(p.sn, p.path, p.node)
			return nil
		}
		var cmd tea.Cmd
		p.vp, cmd = p.vp.Update(msg)
		return cmd
	}
	return nil
}

func (p *previewPage) view(a *App, w, h int) string {
	if p.vp.Width != w || p.vp.Height != h-1 {
		p.vp.Width, p.vp.Height = w, h-1
		p.setContent(a)
	}
	head := fmt.Sprintf("%s  in %s %s", printable(p.path), p.sn.ID.Short(), a.fmtTime(p.sn.Time))
	if p.vp.TotalLineCount() > p.vp.Height {
		head += fmt.Sprintf("  %3.0f%%", p.vp.ScrollPercent()*100)
	}
	return styleHeader.Render(fitLeft(head, w)) + "\n" + p.vp.View()
}

// isText reports whether b looks like text: valid UTF-8 without NULs or
// other control bytes than tab, newline, carriage return and form feed. A
// multi-byte character cut at the end of b does not count against it.
func isText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' && r != '\f' || r == 0x7f {
			return false
		}
		b = b[size:]
	}
	return true
}

// escapeControls shows the characters of a text line that would move the
// terminal's cursor or reorder the screen (a carriage return or form feed
// inside a line, C1 controls, bidirectional overrides, a cut character at
// the end) escaped, as names are: drawn raw, a progress log's "\r" wrote
// the side pane over the file list.
func escapeControls(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[0])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// renderContent shows data as text lines, or as a hex dump when it is not
// text. full is the preview page (more hex); the side pane shows less.
func renderContent(data []byte, width int, full bool) string {
	if isText(data) {
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			l = strings.TrimSuffix(l, "\r")
			b.WriteString(escapeControls(strings.ReplaceAll(l, "\t", "    ")) + "\n")
		}
		return b.String()
	}
	limit, digits := 256, 4
	if full {
		limit, digits = hexLimit, 8
	}
	perRow := 4
	for _, n := range []int{16, 8} {
		if hexRowWidth(n, digits) <= width {
			perRow = n
			break
		}
	}
	return hexDump(data[:min(len(data), limit)], perRow, digits)
}

// hexRowWidth is the cells a hexDump row of perRow bytes takes.
func hexRowWidth(perRow, digits int) int { return digits + 2 + perRow/2*5 + 1 + perRow }

// hexDump is xxd's layout: an offset of digits hex digits, perRow bytes
// (even) in pairs, and the printable characters.
func hexDump(data []byte, perRow, digits int) string {
	var b strings.Builder
	for off := 0; off < len(data); off += perRow {
		row := data[off:min(off+perRow, len(data))]
		fmt.Fprintf(&b, "%0*x: ", digits, off)
		for i := 0; i < perRow; i++ {
			if i < len(row) {
				fmt.Fprintf(&b, "%02x", row[i])
			} else {
				b.WriteString("  ")
			}
			if i%2 == 1 {
				b.WriteByte(' ')
			}
		}
		b.WriteByte(' ')
		for _, c := range row {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
