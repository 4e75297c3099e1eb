package tui

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/tree"
)

// diffKinds are the kind filters, cycled with tab; 0 shows every change.
var diffKinds = []diff.Kind{0, diff.Added, diff.Removed, diff.Modified, diff.MetadataOnly, diff.TypeChanged}

// diffPage shows the changes between two snapshots, or a snapshot folder
// and the live filesystem, as a tree to expand.
type diffPage struct {
	old, new *repo.Snapshot // new is nil against the live filesystem
	snapPath string         // the compared folder inside the snapshot(s)
	livePath string

	loading bool
	err     error
	sum     diff.Summary
	root    *diffNode
	kind    int // index into diffKinds
	rows    []*diffNode
	cur     cursor
}

// diffNode is one path of the change tree: a change, or a folder that
// only holds changes.
type diffNode struct {
	name     string
	path     string // relative to the compared folders, "/a/b"
	change   *diff.Change
	children []*diffNode
	byName   map[string]*diffNode
	depth    int
	open     bool
	delta    int64 // own and descendants' size change
	kinds    map[diff.Kind]bool
}

type diffLoaded struct {
	changes []diff.Change
	sum     diff.Summary
	warns   int
	err     error
}

// openDiff compares snapshot x (old) with y (new).
func (a *App) openDiff(x, y *repo.Snapshot) tea.Cmd {
	p := &diffPage{old: x, new: y, snapPath: "/", loading: true}
	r := a.r
	return a.push(p, a.loadStoppable(p, func(ctx context.Context) any {
		var res diffLoaded
		res.sum, res.err = diff.Snapshots(ctx, r, x, y, "/", "/", diff.Options{Metadata: true}, func(c diff.Change) error {
			res.changes = append(res.changes, c)
			return nil
		})
		return res
	}))
}

// openLiveDiff compares folder dir of sn ("" for the snapshot's ingested
// path) with the same path on the live filesystem.
func (a *App) openLiveDiff(sn *repo.Snapshot, dir string) tea.Cmd {
	if dir == "" {
		if len(sn.Paths) == 0 {
			a.note("the snapshot records no source path")
			return nil
		}
		dir = sn.Paths[0]
		if len(sn.Paths) > 1 {
			a.note("comparing the first of %d ingested paths: %s", len(sn.Paths), dir)
		}
	}
	p := &diffPage{old: sn, snapPath: dir, livePath: dir, loading: true}
	r := a.r
	return a.push(p, a.loadStoppable(p, func(ctx context.Context) any {
		var res diffLoaded
		opt := diff.Options{Metadata: true, Warn: func(string, error) { res.warns++ }}
		res.sum, res.err = diff.Live(ctx, r, sn, dir, dir, opt, func(c diff.Change) error {
			res.changes = append(res.changes, c)
			return nil
		})
		return res
	}))
}

func (p *diffPage) title() string {
	if p.new == nil {
		return "diff " + p.old.ID.Short() + " ↔ live " + printable(p.livePath)
	}
	return "diff " + p.old.ID.Short() + " → " + p.new.ID.Short()
}
func (p *diffPage) typing() bool     { return false }
func (p *diffPage) back(a *App) bool { return false }

func (p *diffPage) help() []binding {
	return append([]binding{
		{"enter", "expand or collapse a folder; preview a file"},
		{"l/→ h/←", "expand / collapse"},
		{"E C", "expand all / collapse all"},
		{"tab shift+tab", "show only one kind, next / previous: + added, - removed, M modified, U metadata, T type"},
		{"space", "mark for restore (the old version; an added entry from the new side)"},
	}, listKeys...)
}

func (p *diffPage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case diffLoaded:
		p.loading, p.err, p.sum = false, msg.err, msg.sum
		if msg.warns > 0 {
			a.note("%s could not be read", plural(msg.warns, "live path", "live paths"))
		}
		p.build(msg.changes)
	case tea.KeyMsg:
		return p.key(a, msg)
	}
	return nil
}

// build arranges the changes (which come parents first) as a tree.
func (p *diffPage) build(changes []diff.Change) {
	p.root = &diffNode{path: "/", byName: map[string]*diffNode{}, open: true, kinds: map[diff.Kind]bool{}, depth: -1}
	var get func(pth string) *diffNode
	get = func(pth string) *diffNode {
		if pth == "/" {
			return p.root
		}
		parent := get(path.Dir(pth))
		name := path.Base(pth)
		n := parent.byName[name]
		if n == nil {
			n = &diffNode{name: name, path: pth, byName: map[string]*diffNode{}, depth: parent.depth + 1, kinds: map[diff.Kind]bool{}, open: parent.depth < 2}
			parent.byName[name] = n
			parent.children = append(parent.children, n)
		}
		return n
	}
	for i := range changes {
		c := &changes[i]
		n := get(path.Clean("/" + c.Path))
		n.change = c
		for x := n; x != nil; x = get2(p.root, x) {
			x.kinds[c.Kind] = true
			x.delta += c.SizeDelta
			if x == p.root {
				break
			}
		}
	}
	var sortAll func(n *diffNode)
	sortAll = func(n *diffNode) {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
		for _, c := range n.children {
			sortAll(c)
		}
	}
	sortAll(p.root)
	// Open down to the first change and put the cursor on it: a change
	// deep down was otherwise a closed folder three levels below the
	// top, to open level by level. A folder holding other changes (its
	// mtime changed with them) is not where to land: what it holds is.
	var first func(n *diffNode) *diffNode
	first = func(n *diffNode) *diffNode {
		for _, c := range n.children {
			if c.change != nil && len(c.children) == 0 {
				return c
			}
			if f := first(c); f != nil {
				return f
			}
		}
		return nil
	}
	f := first(p.root)
	for x := f; x != nil && x != p.root; x = get2(p.root, x) {
		if x != f {
			x.open = true
		}
	}
	p.cur = cursor{}
	p.flatten()
	for i, r := range p.rows {
		if r == f {
			p.cur.pos = i
		}
	}
}

// get2 finds the parent of x in the tree below root.
func get2(root, x *diffNode) *diffNode {
	if x.path == "/" {
		return nil
	}
	n := root
	dir := path.Dir(x.path)
	if dir == "/" {
		return root
	}
	for _, c := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		n = n.byName[c]
	}
	return n
}

// flatten lists the visible rows: open folders' children passing the kind
// filter.
func (p *diffPage) flatten() {
	var keep *diffNode
	if p.cur.pos < len(p.rows) {
		keep = p.rows[p.cur.pos]
	}
	p.rows = p.rows[:0]
	want := diffKinds[p.kind]
	var walk func(n *diffNode)
	walk = func(n *diffNode) {
		for _, c := range n.children {
			if want != 0 && !c.kinds[want] {
				continue
			}
			p.rows = append(p.rows, c)
			if c.open {
				walk(c)
			}
		}
	}
	if p.root != nil {
		walk(p.root)
	}
	p.cur.pos = 0
	for i, r := range p.rows {
		if r == keep {
			p.cur.pos = i
		}
	}
}

func (p *diffPage) setOpen(n *diffNode, open bool) {
	n.open = open
	for _, c := range n.children {
		p.setOpen(c, open)
	}
}

func (p *diffPage) key(a *App, msg tea.KeyMsg) tea.Cmd {
	k := msg.String()
	listH := a.listHeight()
	if p.cur.move(k, len(p.rows), listH) {
		return nil
	}
	switch k {
	case "tab":
		p.kind = (p.kind + 1) % len(diffKinds)
		p.flatten()
		return nil
	case "shift+tab":
		p.kind = (p.kind + len(diffKinds) - 1) % len(diffKinds)
		p.flatten()
		return nil
	case "E", "C":
		if p.root != nil {
			p.setOpen(p.root, k == "E")
			p.root.open = true
			p.flatten()
		}
		return nil
	}
	if p.cur.pos >= len(p.rows) {
		return nil
	}
	n := p.rows[p.cur.pos]
	switch k {
	case "enter", "l", "right", "h", "left":
		if len(n.children) > 0 {
			n.open = k == "l" || k == "right" || k == "enter" && !n.open
			p.flatten()
			return nil
		}
		if k == "h" || k == "left" {
			if parent := get2(p.root, n); parent != nil && parent != p.root {
				parent.open = false
				p.flatten()
				for i, r := range p.rows {
					if r == parent {
						p.cur.pos = i
					}
				}
			}
			return nil
		}
		if k == "enter" && n.change != nil {
			sn, node := p.side(n)
			if node != nil {
				return a.openPreview(sn, p.fullPath(n), node)
			}
		}
	case " ":
		sn, node := p.side(n)
		if node == nil {
			a.note("%s exists only on the live filesystem: nothing to restore", n.path)
			return nil
		}
		a.marks.toggle(sn, p.fullPath(n), node)
		p.cur.move("down", len(p.rows), listH)
	}
	return nil
}

// side is the snapshot and entry a mark or preview of n uses: the old
// version when there is one, else the new snapshot's.
func (p *diffPage) side(n *diffNode) (*repo.Snapshot, *tree.Node) {
	switch c := n.change; {
	case c == nil: // a folder that only holds changes
		return p.old, &tree.Node{Name: n.name, Kind: tree.KindDir}
	case c.Old != nil:
		return p.old, c.Old
	case p.new != nil && c.New != nil:
		return p.new, c.New
	}
	return nil, nil
}

func (p *diffPage) fullPath(n *diffNode) string { return path.Join(p.snapPath, n.path) }

func (p *diffPage) view(a *App, w, h int) string {
	var b strings.Builder
	s := p.sum
	// The byte counts mean what `cairn diff` prints: the sizes of the
	// files added and removed entirely, what the changed ones grew and
	// shrank by.
	head := fmt.Sprintf("+%d -%d M%d U%d T%d   added %s, removed %s, changed +%s / -%s", s.Added, s.Removed, s.Modified, s.MetadataOnly, s.TypeChanged,
		formatBytes(s.AddedBytes), formatBytes(s.RemovedBytes), formatBytes(s.GrownBytes), formatBytes(s.ShrunkBytes))
	if want := diffKinds[p.kind]; want != 0 {
		head += "   showing " + want.Marker() + " only"
	}
	if p.loading {
		head = "comparing…"
	}
	b.WriteString(styleHeader.Render(fit(head, w)) + "\n")
	switch {
	case p.err != nil:
		return b.String() + styleError.Render(p.err.Error())
	case p.loading:
		return b.String()
	case len(p.rows) == 0:
		return b.String() + styleDim.Render("  no changes")
	}
	// Paths are relative to the compared folders, as `cairn diff`
	// prints them: the snapshots' roots, or the folder compared with the
	// live filesystem, which the column names.
	colW := max(10, w-40)
	col := "PATH"
	if p.snapPath != "/" {
		col += " in " + fitLeft(printable(p.snapPath), max(1, colW-len(col)-4))
	}
	b.WriteString(styleDim.Render(fmt.Sprintf("    %s %10s  %s", fit(col, colW), "DELTA", "CHANGED")) + "\n")
	listH := h - 2
	p.cur.clamp(len(p.rows), listH)
	for i := p.cur.top; i < len(p.rows) && i < p.cur.top+listH; i++ {
		n := p.rows[i]
		gutter := "  "
		if i == p.cur.pos {
			gutter = "> "
		}
		marker := " "
		what := ""
		if c := n.change; c != nil {
			marker = styleKind[c.Kind.Marker()].Render(c.Kind.Marker())
			what = strings.Join(c.MetaChanged, ",")
			if c.ContentChanged && c.Kind == diff.Modified {
				what = strings.TrimSuffix("content,"+what, ",")
			}
		}
		fold := "  "
		if len(n.children) > 0 {
			fold = "▸ "
			if n.open {
				fold = "▾ "
			}
		}
		m := " "
		if sn, node := p.side(n); node != nil && a.marks.has(sn, p.fullPath(n)) {
			m = styleMark.Render("*")
		}
		name := strings.Repeat("  ", n.depth) + fold + printable(n.name)
		line := fmt.Sprintf("%s%s%s %s %10s  %s", gutter, m, marker, fit(name, max(10, w-40)), formatDelta(n.delta), what)
		if i == p.cur.pos {
			line = styleSelected.Render(fit(line, w))
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
