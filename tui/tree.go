package tui

import (
	"context"
	"fmt"
	"path"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// headLimit is how much of a file the side pane shows.
const headLimit = 4 << 10

// treePage browses one snapshot's folders, one at a time, loaded lazily.
type treePage struct {
	sn      *repo.Snapshot
	dir     string // "/" or "/home/alice"
	node    *tree.Node
	nodes   []*tree.Node // nil while loading
	loading bool
	err     error
	want    string // put the cursor on this name when loaded
	filter  lineEdit
	vis     []int    // indexes into nodes that pass the filter
	visQ    string   // the filter (lower case) vis was made for
	lower   []string // the names of nodes in lower case, once filtered
	cur     cursor
	// unfiltered is where the cursor was when / was pressed: esc
	// while typing puts it back there.
	unfiltered treeSpotCursor
	noPane     bool
	heads      map[*tree.Node]headLoaded
	// fallback is where to go when the first folder loaded turns out
	// not to be one (a file, or missing): its parent, cursor on it.
	fallback *treeSpot
}

// treeSpot is a folder and a name in it.
type treeSpot struct{ dir, name string }

// treeSpotCursor is an entry under the cursor and the first row shown.
type treeSpotCursor struct {
	node *tree.Node
	top  int
}

// openTree pushes the tree of sn at folder dir, with the cursor on name.
func (a *App) openTree(sn *repo.Snapshot, dir, name string) tea.Cmd {
	p := &treePage{sn: sn, heads: map[*tree.Node]headLoaded{}}
	return a.push(p, p.enter(a, path.Clean("/"+dir), name))
}

func (p *treePage) title() string {
	return p.sn.ID.Short() + " " + printable(p.dir)
}
func (p *treePage) typing() bool { return p.filter.active }

func (p *treePage) back(a *App) bool {
	if p.filter.value != "" {
		p.filter.value = ""
		p.refilter()
		return true
	}
	return false
}

func (p *treePage) help() []binding {
	return append([]binding{
		{"enter/l/→", "open a folder; preview a file"},
		{"h/←/backspace", "up to the parent folder"},
		{"space", "mark (or unmark) for restore"},
		{"v", "versions of the file in every snapshot"},
		{"/", "filter this folder by typing"},
		{"f", "find files in this snapshot"},
		{"L", "diff this folder with the live filesystem"},
		{"tab", "show or hide the side pane"},
	}, listKeys...)
}

// enter starts loading folder dir.
func (p *treePage) enter(a *App, dir, want string) tea.Cmd {
	p.dir, p.want, p.nodes, p.node, p.err, p.loading = dir, want, nil, nil, nil, true
	p.filter = lineEdit{}
	p.vis, p.visQ, p.lower = nil, "", nil
	p.cur = cursor{}
	r, sn := a.r, p.sn
	return a.load(p, func(ctx context.Context) any { return loadDir(ctx, r, sn, dir) })
}

func (p *treePage) selected() *tree.Node {
	if p.cur.pos < 0 || p.cur.pos >= len(p.vis) {
		return nil
	}
	return p.nodes[p.vis[p.cur.pos]]
}

// refilter shows the entries whose name holds the filter, ignoring case,
// and keeps the cursor on the entry it was on when that one still shows.
// A filter that only grew (a key typed) is looked for in the entries
// shown already, not in the whole folder again: in a folder of 100,000
// names every key typed re-ran over all of them, lower-casing each, and
// typing lagged. The result is the same, as a name that holds the longer
// filter holds the shorter one.
func (p *treePage) refilter() {
	keep := p.selected()
	q := strings.ToLower(p.filter.value)
	switch {
	case q == "":
		p.vis = p.vis[:0]
		for i := range p.nodes {
			p.vis = append(p.vis, i)
		}
	case p.visQ != "" && strings.Contains(q, p.visQ):
		kept := p.vis[:0]
		for _, i := range p.vis {
			if strings.Contains(p.lowerName(i), q) {
				kept = append(kept, i)
			}
		}
		p.vis = kept
	default:
		p.vis = p.vis[:0]
		for i := range p.nodes {
			if strings.Contains(p.lowerName(i), q) {
				p.vis = append(p.vis, i)
			}
		}
	}
	p.visQ = q
	p.cur.pos = 0
	for i, x := range p.vis {
		if p.nodes[x] == keep {
			p.cur.pos = i
		}
	}
}

// lowerName is entry i's name in lower case, made once per folder.
func (p *treePage) lowerName(i int) string {
	if len(p.lower) != len(p.nodes) {
		p.lower = make([]string, len(p.nodes))
		for j, n := range p.nodes {
			p.lower[j] = strings.ToLower(n.Name)
		}
	}
	return p.lower[i]
}

func (p *treePage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dirLoaded:
		if msg.dir != p.dir {
			return nil
		}
		if fb := p.fallback; fb != nil {
			p.fallback = nil
			if msg.err != nil {
				if !msg.notDir {
					a.fail(msg.err) // missing: say so, and show where it would be
				}
				return p.enter(a, fb.dir, fb.name)
			}
		}
		p.loading, p.err, p.node, p.nodes = false, msg.err, msg.node, msg.nodes
		p.visQ, p.lower = "", nil
		if msg.skipped != nil {
			a.fail(msg.skipped) // the rest of the folder is shown
		}
		if p.nodes == nil {
			p.nodes = []*tree.Node{}
		}
		p.refilter()
		if p.want != "" {
			for i, x := range p.vis {
				if p.nodes[x].Name == p.want {
					p.cur.pos = i
				}
			}
		}
		p.cur.top = p.cur.pos - a.listHeight()/2
		p.cur.clamp(len(p.vis), a.listHeight())
		return tea.Batch(a.startSize(p, p.node), p.follow(a))
	case sizeLoaded:
		if msg.err != nil {
			a.fail(msg.err)
		}
	case headLoaded:
		p.heads[msg.node] = msg
	case tea.KeyMsg:
		return p.key(a, msg)
	}
	return nil
}

// follow loads what the side pane needs for the entry under the cursor.
func (p *treePage) follow(a *App) tea.Cmd {
	n := p.selected()
	if n == nil || p.noPane {
		return nil
	}
	switch n.Kind {
	case tree.KindDir:
		return a.startSize(p, n)
	case tree.KindFile:
		if _, ok := p.heads[n]; ok || n.Size == 0 {
			return nil
		}
		p.heads[n] = headLoaded{node: n} // in flight
		r := a.r
		return a.load(p, func(ctx context.Context) any {
			b, err := readHead(ctx, r, n, headLimit)
			return headLoaded{node: n, data: b, err: err}
		})
	}
	return nil
}

func (p *treePage) key(a *App, msg tea.KeyMsg) tea.Cmd {
	if p.filter.active {
		changed, _ := p.filter.key(msg)
		switch {
		case msg.String() == "esc":
			// Cancelled: the whole folder again, the cursor where it
			// was before the filter moved it.
			p.refilter()
			for i, x := range p.vis {
				if p.nodes[x] == p.unfiltered.node {
					p.cur.pos, p.cur.top = i, p.unfiltered.top
				}
			}
			p.cur.clamp(len(p.vis), a.listHeight())
		case changed:
			p.refilter()
			p.cur.clamp(len(p.vis), a.listHeight())
		}
		return p.follow(a)
	}
	k := msg.String()
	if p.cur.move(k, len(p.vis), a.listHeight()) {
		return p.follow(a)
	}
	n := p.selected()
	switch k {
	case "/":
		p.filter.active = true
		p.unfiltered = treeSpotCursor{node: n, top: p.cur.top}
	case "tab":
		p.noPane = !p.noPane
		return p.follow(a)
	case "h", "left", "backspace":
		if p.dir != "/" {
			return p.enter(a, path.Dir(p.dir), path.Base(p.dir))
		}
	case "enter", "l", "right":
		if n == nil {
			return nil
		}
		if n.Kind == tree.KindDir {
			return p.enter(a, joinPath(p.dir, n.Name), "")
		}
		return a.openPreview(p.sn, joinPath(p.dir, n.Name), n)
	case " ":
		if n != nil {
			a.marks.toggle(p.sn, joinPath(p.dir, n.Name), n)
			p.cur.move("down", len(p.vis), a.listHeight())
			return p.follow(a)
		}
	case "v":
		if n != nil && n.Kind != tree.KindDir {
			return a.openVersions(p.sn, joinPath(p.dir, n.Name))
		}
		a.note("versions are for files; open the folder instead")
	case "f":
		return a.openSearch(p.sn)
	case "L":
		return a.openLiveDiff(p.sn, p.dir)
	}
	return nil
}

func (p *treePage) view(a *App, w, h int) string {
	paneW := 0
	if !p.noPane && w >= 80 {
		paneW = w / 3
	}
	left := p.listView(a, w-paneW, h)
	if paneW == 0 {
		return left
	}
	right := p.paneView(a, paneW-2, h)
	bar := strings.TrimSuffix(strings.Repeat(" │\n", h), "\n")
	return lipgloss.JoinHorizontal(lipgloss.Top, block(left, w-paneW, h), bar, block(right, paneW-2, h))
}

func (p *treePage) listView(a *App, w, h int) string {
	var b strings.Builder
	head := printable(p.dir)
	if p.node != nil {
		if s, ok := a.dirSize(p.node); ok {
			head += fmt.Sprintf("  %s, %s", plural(len(p.nodes), "entry", "entries"), formatBytes(s))
		} else {
			head += fmt.Sprintf("  %s, total …", plural(len(p.nodes), "entry", "entries"))
		}
	}
	if p.filter.active || p.filter.value != "" {
		head += fmt.Sprintf("  filter: %s", p.filter.value)
		if p.filter.active {
			head += "▏"
		}
	}
	b.WriteString(styleHeader.Render(fitLeft(head, w)) + "\n")
	switch {
	case p.err != nil:
		b.WriteString(styleError.Render(p.err.Error()))
		return b.String()
	case p.loading:
		return b.String()
	case len(p.vis) == 0:
		b.WriteString(styleDim.Render("  (empty)"))
		return b.String()
	}
	// The name comes first: on a narrow screen the owner, then the
	// mtime, then the mode make room for it (the side pane shows them).
	showMode, showOwner, showTime := true, true, true
	nameW := w - (4 + 10 + 11 + 14 + 17)
	if nameW < 20 {
		showOwner, nameW = false, nameW+14
	}
	if nameW < 20 {
		showTime, nameW = false, nameW+17
	}
	if nameW < 20 {
		showMode, nameW = false, nameW+11
	}
	nameW = max(8, nameW)
	cols := func(size, mode, own, mtime string) string {
		s := fmt.Sprintf(" %9s", size)
		if showMode {
			s += " " + fit(mode, 10)
		}
		if showOwner {
			s += " " + fit(own, 13)
		}
		if showTime {
			s += " " + fit(mtime, 16)
		}
		return s
	}
	b.WriteString(styleDim.Render("    "+fit("NAME", nameW)+cols("SIZE", "MODE", "OWNER", "MTIME")) + "\n")
	listH := h - 2
	p.cur.clamp(len(p.vis), listH)
	for i := p.cur.top; i < len(p.vis) && i < p.cur.top+listH; i++ {
		n := p.nodes[p.vis[i]]
		gutter := "  "
		if i == p.cur.pos {
			gutter = "> "
		}
		m := " "
		if a.marks.has(p.sn, joinPath(p.dir, n.Name)) {
			m = styleMark.Render("*")
		}
		name := printable(n.Name)
		switch n.Kind {
		case tree.KindDir:
			name += "/"
		case tree.KindSymlink:
			name += " -> " + printable(n.LinkTarget)
		}
		size := nodeSize(n)
		if s, ok := a.dirSize(n); ok && n.Kind == tree.KindDir {
			size = formatBytes(s)
		}
		line := gutter + m + " " + fit(name, nameW) + cols(size, n.LsMode(), owner(n), a.fmtNano(n.MTime)[:16])
		if i == p.cur.pos {
			line = styleSelected.Render(fit(line, w))
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// paneView shows the entry under the cursor: metadata, xattrs, and the
// start of a file (text, or a hex dump).
func (p *treePage) paneView(a *App, w, h int) string {
	n := p.selected()
	if n == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(styleHeader.Render(fitLeft(printable(joinPath(p.dir, n.Name)), w)) + "\n")
	b.WriteString(nodeDetails(a, n))
	switch n.Kind {
	case tree.KindDir:
		if s, ok := a.dirSize(n); ok {
			fmt.Fprintf(&b, "total   %s\n", formatBytes(s))
		} else {
			b.WriteString("total   …\n")
		}
	case tree.KindFile:
		hl, ok := p.heads[n]
		switch {
		case n.Size == 0:
		case !ok || (hl.data == nil && hl.err == nil):
			b.WriteString("\n" + styleDim.Render("loading…") + "\n")
		case hl.err != nil:
			b.WriteString("\n" + styleError.Render(hl.err.Error()) + "\n")
		default:
			b.WriteString("\n" + renderContent(hl.data, w, false))
		}
	}
	return b.String()
}

// nodeDetails is the metadata block of the side pane and the preview.
func nodeDetails(a *App, n *tree.Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s %s\n", n.Kind, n.LsMode(), owner(n))
	if n.Kind == tree.KindFile {
		fmt.Fprintf(&b, "size    %s (%d bytes)\n", formatBytes(int64(n.Size)), n.Size)
	}
	fmt.Fprintf(&b, "mtime   %s\n", a.fmtNano(n.MTime))
	if n.Links > 1 && n.Kind != tree.KindDir {
		fmt.Fprintf(&b, "links   %d (inode %d)\n", n.Links, n.Inode)
	}
	switch n.Kind {
	case tree.KindSymlink:
		fmt.Fprintf(&b, "target  %s\n", printable(n.LinkTarget))
	case tree.KindCharDev, tree.KindBlockDev:
		fmt.Fprintf(&b, "device  %d, %d\n", n.DevMajor, n.DevMinor)
	}
	if len(n.Xattrs) > 0 {
		b.WriteString("xattrs\n")
		for _, x := range n.Xattrs {
			fmt.Fprintf(&b, "  %s = %s\n", printable(x.Name), xattrValue(x.Value))
		}
	}
	return b.String()
}

func xattrValue(v []byte) string {
	if isText(v) {
		return fmt.Sprintf("%q", string(v))
	}
	const max = 24
	s := fmt.Sprintf("0x%x", v[:min(len(v), max)])
	if len(v) > max {
		s += fmt.Sprintf("… (%d bytes)", len(v))
	}
	return s
}
