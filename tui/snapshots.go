package tui

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
)

// sortKeys are the orders of the snapshot list, cycled with o.
var sortKeys = []string{"time", "size", "added"}

// snapshotsPage lists every snapshot, grouped by host and source.
type snapshotsPage struct {
	all     []*repo.Snapshot
	loc     *time.Location // the App's zone: the filter matches times as shown
	loaded  bool
	filter  lineEdit
	sortKey int
	reverse bool // oldest / smallest first
	items   []*repo.Snapshot
	rows    []snapRow
	rowOf   []int // items index -> rows index
	cur     cursor
	picked  []*repo.Snapshot // for diff, at most two
	// unfiltered is the snapshot under the cursor and the first row
	// shown when / was pressed: esc while typing puts them back.
	unfiltered    *repo.Snapshot
	unfilteredTop int
}

// snapRow is a group header (sn nil) or one snapshot.
type snapRow struct {
	group string
	sn    *repo.Snapshot
	item  int
}

func newSnapshotsPage(loc *time.Location) *snapshotsPage { return &snapshotsPage{loc: loc} }

func (p *snapshotsPage) title() string { return "snapshots" }
func (p *snapshotsPage) typing() bool  { return p.filter.active }

func (p *snapshotsPage) back(a *App) bool {
	if p.filter.value != "" {
		p.filter.value = ""
		p.rebuild()
		return true
	}
	return false
}

func (p *snapshotsPage) help() []binding {
	return append([]binding{
		{"enter", "open the snapshot's tree, in the folder it holds"},
		{"/", "filter by typing (id, host, source, tag, path, time)"},
		{"o", "sort by time, size or data added"},
		{"r", "reverse the order"},
		{"space", "pick for diff (two at most)"},
		{"d", "diff the two picked (or picked and cursor)"},
		{"L", "diff the snapshot with the live filesystem"},
		{"f", "find files in all snapshots"},
		{"ctrl+r", "reload the list"},
	}, listKeys...)
}

func (p *snapshotsPage) reload(a *App) tea.Cmd {
	r := a.r
	return a.load(p, func(ctx context.Context) any { return loadSnapshots(ctx, r) })
}

func (p *snapshotsPage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case snapshotsLoaded:
		if msg.err != nil {
			a.fail(msg.err)
			return nil
		}
		if msg.warnings > 0 {
			a.note("%s left out (run cairn check)", plural(msg.warnings, "damaged snapshot", "damaged snapshots"))
		}
		p.all, p.loaded = msg.snaps, true
		// A reload (ctrl+r) brings new copies of the snapshots: the
		// picks follow theirs, by ID, as the cursor does in rebuild
		// (a pick forgotten meanwhile is dropped).
		var picked []*repo.Snapshot
		for _, x := range p.picked {
			for _, sn := range p.all {
				if sn.ID == x.ID {
					picked = append(picked, sn)
					break
				}
			}
		}
		p.picked = picked
		p.rebuild()
		if a.opt.Snapshot != "" {
			sel := a.opt.Snapshot
			a.opt.Snapshot = ""
			return a.openSelector(sel)
		}
	case tea.KeyMsg:
		return p.key(a, msg)
	}
	return nil
}

func (p *snapshotsPage) key(a *App, msg tea.KeyMsg) tea.Cmd {
	h := a.listHeight()
	if p.filter.active {
		changed, _ := p.filter.key(msg)
		switch {
		case msg.String() == "esc":
			// Cancelled: every snapshot again, the cursor where it was
			// before the filter moved it.
			p.rebuild()
			for i, sn := range p.items {
				if p.unfiltered != nil && sn.ID == p.unfiltered.ID {
					p.cur.pos, p.cur.top = i, p.unfilteredTop
				}
			}
			p.scroll(h)
		case changed:
			p.rebuild()
		}
		return nil
	}
	k := msg.String()
	if p.cur.move(k, len(p.items), h) {
		p.scroll(h)
		return nil
	}
	sel := p.selected()
	switch k {
	case "/":
		p.filter.active = true
		p.unfiltered, p.unfilteredTop = sel, p.cur.top
	case "o":
		p.sortKey = (p.sortKey + 1) % len(sortKeys)
		p.rebuild()
	case "r":
		p.reverse = !p.reverse
		p.rebuild()
	case "ctrl+r":
		return p.reload(a)
	case "enter", "l", "right":
		if sel != nil {
			return a.openSnapshot(sel)
		}
	case " ":
		if sel != nil {
			p.pick(sel)
		}
	case "d":
		return p.diff(a, sel)
	case "L":
		if sel != nil {
			return a.openLiveDiff(sel, "")
		}
	case "f":
		return a.openSearch(nil)
	}
	return nil
}

func (p *snapshotsPage) pick(sn *repo.Snapshot) {
	for i, x := range p.picked {
		if x == sn {
			p.picked = append(p.picked[:i], p.picked[i+1:]...)
			return
		}
	}
	p.picked = append(p.picked, sn)
	if len(p.picked) > 2 {
		p.picked = p.picked[1:]
	}
}

func (p *snapshotsPage) diff(a *App, sel *repo.Snapshot) tea.Cmd {
	var x, y *repo.Snapshot
	switch {
	case len(p.picked) == 2:
		x, y = p.picked[0], p.picked[1]
	case len(p.picked) == 1 && sel != nil && sel != p.picked[0]:
		x, y = p.picked[0], sel
	default:
		a.note("pick two snapshots with space (or one, and put the cursor on the other)")
		return nil
	}
	if y.Time.Before(x.Time) {
		x, y = y, x
	}
	return a.openDiff(x, y)
}

func (p *snapshotsPage) selected() *repo.Snapshot {
	if p.cur.pos < 0 || p.cur.pos >= len(p.items) {
		return nil
	}
	return p.items[p.cur.pos]
}

func (p *snapshotsPage) pickLabel(sn *repo.Snapshot) string {
	for i, x := range p.picked {
		if x == sn {
			return string(rune('A' + i))
		}
	}
	return " "
}

// rebuild applies the filter and the order and regroups.
func (p *snapshotsPage) rebuild() {
	keep := p.selected()
	q := strings.ToLower(p.filter.value)
	p.items = p.items[:0]
	for _, sn := range p.all {
		if q == "" || strings.Contains(searchText(sn, p.loc), q) {
			p.items = append(p.items, sn)
		}
	}
	val := func(sn *repo.Snapshot) int64 {
		switch sortKeys[p.sortKey] {
		case "size":
			if sn.Summary != nil {
				return sn.Summary.TotalBytes
			}
			return -1
		case "added":
			if sn.Summary != nil {
				return sn.Summary.DataAdded
			}
			return -1
		}
		return sn.Time.UnixNano()
	}
	sort.SliceStable(p.items, func(i, j int) bool {
		x, y := p.items[i], p.items[j]
		if gx, gy := groupOf(x), groupOf(y); gx != gy {
			return gx < gy
		}
		vx, vy := val(x), val(y)
		if vx == vy {
			return false
		}
		// Newest and largest first unless reversed.
		return (vx > vy) != p.reverse
	})
	p.rows, p.rowOf = p.rows[:0], p.rowOf[:0]
	counts := map[string]int{}
	for _, sn := range p.items {
		counts[groupOf(sn)]++
	}
	last := "\x00"
	for i, sn := range p.items {
		if g := groupOf(sn); g != last {
			p.rows = append(p.rows, snapRow{group: fmt.Sprintf("%s  (%d)", g, counts[g])})
			last = g
		}
		p.rowOf = append(p.rowOf, len(p.rows))
		p.rows = append(p.rows, snapRow{sn: sn, item: i})
	}
	p.cur.pos = 0
	for i, sn := range p.items {
		if keep != nil && sn.ID == keep.ID {
			p.cur.pos = i
		}
	}
	p.cur.clamp(len(p.items), 1<<30)
}

// scroll keeps the cursor's row (and its group header, at the top of a
// group) inside the window of h rows.
func (p *snapshotsPage) scroll(h int) {
	if len(p.items) == 0 {
		p.cur.top = 0
		return
	}
	row := p.rowOf[p.cur.pos]
	first := row
	if row > 0 && p.rows[row-1].sn == nil {
		first = row - 1
	}
	if first < p.cur.top {
		p.cur.top = first
	}
	if row >= p.cur.top+h {
		p.cur.top = row - h + 1
	}
	p.cur.top = max(0, min(p.cur.top, len(p.rows)-h))
}

func groupOf(sn *repo.Snapshot) string { return printable(sn.Host) + " · " + printable(sn.Source) }

// shownTags and shownPaths are a snapshot's tags and paths as the list
// draws them, escaped as names are (a path may hold a line feed).
func shownTags(sn *repo.Snapshot) string { return printable(strings.Join(sn.Tags, ",")) }
func shownPaths(sn *repo.Snapshot) string {
	var ps []string
	for _, p := range sn.Paths {
		ps = append(ps, printable(p))
	}
	return strings.Join(ps, " ")
}

// searchText is what the filter matches a snapshot against: its time as
// the list shows it, in the zone loc.
func searchText(sn *repo.Snapshot, loc *time.Location) string {
	return strings.ToLower(strings.Join([]string{sn.ID.String(), sn.Host, sn.Source, strings.Join(sn.Tags, ","),
		strings.Join(sn.Paths, " "), sn.Time.In(loc).Format("2006-01-02 15:04:05")}, " "))
}

func (p *snapshotsPage) view(a *App, w, h int) string {
	var b strings.Builder
	head := plural(len(p.all), "snapshot", "snapshots")
	if len(p.items) != len(p.all) {
		head = fmt.Sprintf("%d of %s", len(p.items), plural(len(p.all), "snapshot", "snapshots"))
	}
	order := sortKeys[p.sortKey]
	if p.reverse {
		order += " ↑"
	} else {
		order += " ↓"
	}
	head += "  sorted by " + order
	if p.filter.active || p.filter.value != "" {
		head += "  filter: " + p.filter.value
		if p.filter.active {
			head += "▏"
		}
	}
	b.WriteString(styleHeader.Render(head) + "\n")
	if !p.loaded {
		return b.String()
	}
	if len(p.items) == 0 {
		b.WriteString(styleDim.Render("  no snapshots"))
		return b.String()
	}
	listH := h - 2
	p.scroll(listH)
	// TAGS is as wide as the widest tags, up to 15 cells, or 8 on a
	// narrow terminal, where PATHS needs the room more.
	tagsW := len("TAGS")
	for _, sn := range p.all {
		tagsW = max(tagsW, ansi.StringWidth(shownTags(sn)))
	}
	tagsW = min(tagsW, 15)
	if w < 100 {
		tagsW = min(tagsW, 8)
	}
	// On a narrow screen ADDED, then SIZE, make room for PATHS, which
	// tells the snapshots of different folders apart.
	nums := []string{"SIZE", "ADDED"}
	pathW := w - 55 - tagsW // what the columns before it leave
	for len(nums) > 0 && pathW < 12 {
		nums, pathW = nums[:len(nums)-1], pathW+10
	}
	pathW = max(8, pathW)
	numCols := func(vals ...string) string {
		s := ""
		for i := range nums {
			s += fmt.Sprintf(" %9s", vals[i])
		}
		return s
	}
	b.WriteString(styleDim.Render(fmt.Sprintf("    %-8s %-19s %s%s  %s", "ID", "TIME", fit("TAGS", tagsW), numCols("SIZE", "ADDED"), "PATHS")) + "\n")
	for i := p.cur.top; i < len(p.rows) && i < p.cur.top+listH; i++ {
		row := p.rows[i]
		if row.sn == nil {
			b.WriteString(styleGroup.Render(fit(row.group, w)) + "\n")
			continue
		}
		sn := row.sn
		size, added := "-", "-"
		if sn.Summary != nil {
			size, added = formatBytes(sn.Summary.TotalBytes), formatBytes(sn.Summary.DataAdded)
		}
		gutter := "  "
		if row.item == p.cur.pos {
			gutter = "> "
		}
		line := fmt.Sprintf("%s%s %-8s %-19s %s%s  %s", gutter, p.pickLabel(sn), sn.ID.Short(), a.fmtTime(sn.Time),
			fit(shownTags(sn), tagsW), numCols(size, added), fitLeft(shownPaths(sn), pathW))
		if row.item == p.cur.pos {
			line = styleSelected.Render(fit(line, w))
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// openSelector opens "SNAP[:PATH]" given on the command line, resolved
// in the loaded list: "latest" or a unique ID prefix.
func (a *App) openSelector(sel string) tea.Cmd {
	snapSel, sub, hasPath := sel, "/", false
	if i := strings.IndexByte(sel, ':'); i >= 0 {
		snapSel, sub, hasPath = sel[:i], sel[i+1:], true
	}
	all := a.stack[0].(*snapshotsPage).all
	var found *repo.Snapshot
	for _, sn := range all {
		if snapSel == "latest" || strings.HasPrefix(sn.ID.String(), strings.ToLower(snapSel)) {
			if found != nil && snapSel != "latest" {
				a.note("snapshot prefix %q is ambiguous", snapSel)
				return nil
			}
			found = sn
		}
	}
	if found == nil || snapSel == "" {
		a.note("no snapshot %q", snapSel)
		return nil
	}
	// A snapshot with no path opens as enter opens it on the list: in
	// the folder it holds, not at the root.
	if !hasPath {
		return a.openSnapshot(found)
	}
	// A file opens as its folder, cursor on it (as a snapshot of one
	// file does), not as an error page saying it is not a folder.
	sub = path.Clean("/" + sub)
	if sub == "/" {
		return a.openTree(found, sub, "")
	}
	p := &treePage{sn: found, heads: map[*tree.Node]headLoaded{}, fallback: &treeSpot{dir: path.Dir(sub), name: path.Base(sub)}}
	return a.push(p, p.enter(a, sub, ""))
}

// openSnapshot pushes sn's tree where startAt says: in its one path when
// that is a folder, else in the folder above it with the cursor on it; in
// the deepest folder holding all its paths when it has several.
func (a *App) openSnapshot(sn *repo.Snapshot) tea.Cmd {
	dir, name, single := startAt(sn)
	if !single {
		return a.openTree(sn, dir, name)
	}
	p := &treePage{sn: sn, heads: map[*tree.Node]headLoaded{}, fallback: &treeSpot{dir: dir, name: name}}
	return a.push(p, p.enter(a, joinPath(dir, name), ""))
}

// startAt is where a snapshot's tree opens: in the deepest folder holding
// all its paths (name ""), or, for a snapshot of one path (single), dir
// and name are the folder above it and its name there, to be tried as a
// folder first.
func startAt(sn *repo.Snapshot) (dir, name string, single bool) {
	common := sn.CommonDir()
	if len(common) == 0 {
		return "/", "", false
	}
	full := "/" + strings.Join(common, "/")
	if len(sn.Paths) == 1 {
		return path.Dir(full), path.Base(full), true
	}
	return full, "", false
}
