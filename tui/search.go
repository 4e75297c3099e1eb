package tui

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/search"
)

// maxResults bounds the paths a search keeps.
const maxResults = 5000

var errEnough = errors.New("enough results")

// searchPage finds entries by name or glob in every snapshot (or one) and
// shows each matching path with the snapshots holding it.
type searchPage struct {
	scope    *repo.Snapshot // nil: every snapshot
	input    lineEdit
	pattern  string
	running  bool
	results  []search.Result
	capped   bool
	err      error
	expanded map[string]bool
	rows     []searchRow
	cur      cursor
	seq      int
}

// searchRow is a path (hit < 0) or one snapshot holding it.
type searchRow struct {
	res int
	hit int
}

type searchDone struct {
	seq     int
	results []search.Result
	capped  bool
	err     error
	snaps   *snapshotsLoaded // the list read anew for a search of all
}

// openSearch pushes a search of scope (nil: every snapshot), asking for
// the pattern first.
func (a *App) openSearch(scope *repo.Snapshot) tea.Cmd {
	p := &searchPage{scope: scope, expanded: map[string]bool{}}
	p.input.active = true
	return a.push(p, nil)
}

func (p *searchPage) title() string {
	if p.scope != nil {
		return "find in " + p.scope.ID.Short()
	}
	return "find"
}
func (p *searchPage) typing() bool { return p.input.active }

func (p *searchPage) back(a *App) bool { return false }

func (p *searchPage) help() []binding {
	return append([]binding{
		{"/", "type a new pattern (name, *.glob or dir/**/x)"},
		{"enter", "on a path: show or hide its snapshots; on a snapshot: open its tree there"},
		{"o", "open the newest snapshot's tree at the path"},
		{"v", "versions of the path"},
		{"space", "mark the path (in the snapshot under the cursor, or the newest)"},
	}, listKeys...)
}

// globPattern turns a plain word into a substring match on names.
func globPattern(s string) string {
	if strings.ContainsAny(s, "*?[/") {
		return s
	}
	return "*" + s + "*"
}

func (p *searchPage) run(a *App) tea.Cmd {
	p.seq++
	p.pattern, p.running, p.results, p.err, p.rows = p.input.value, true, nil, nil, nil
	p.cur = cursor{}
	seq, r, pat := p.seq, a.r, globPattern(p.input.value)
	snaps := a.allSnapshots()
	if p.scope != nil {
		snaps = []*repo.Snapshot{p.scope}
	}
	all := p.scope == nil
	return a.loadStoppable(p, func(ctx context.Context) any {
		var fresh *snapshotsLoaded
		if all {
			// A browser stays open for hours while ingests commit
			// snapshots and forget drops them: search what the
			// repository holds now, not the list read at the start.
			l := loadSnapshots(ctx, r)
			if l.err != nil {
				return searchDone{seq: seq, err: l.err}
			}
			fresh, snaps = &l, l.snaps
		}
		var out []search.Result
		capped := false
		err := search.Find(ctx, r, snaps, pat, search.FindOptions{IgnoreCase: true}, func(res search.Result) error {
			if len(out) == maxResults {
				capped = true
				return errEnough
			}
			out = append(out, res)
			return nil
		})
		if errors.Is(err, errEnough) {
			err = nil
		}
		return searchDone{seq: seq, results: out, capped: capped, err: err, snaps: fresh}
	})
}

func (p *searchPage) rebuild() {
	p.rows = p.rows[:0]
	for i, res := range p.results {
		p.rows = append(p.rows, searchRow{res: i, hit: -1})
		if p.expanded[res.Path] {
			for j := len(res.Hits) - 1; j >= 0; j-- {
				p.rows = append(p.rows, searchRow{res: i, hit: j})
			}
		}
	}
}

func (p *searchPage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case searchDone:
		var cmd tea.Cmd
		if msg.snaps != nil {
			// The list shows what was searched.
			cmd = a.stack[0].update(a, *msg.snaps)
		}
		if msg.seq != p.seq {
			return cmd
		}
		p.running, p.results, p.capped, p.err = false, msg.results, msg.capped, msg.err
		if len(p.results) == 1 {
			p.expanded[p.results[0].Path] = true
		}
		p.rebuild()
		return cmd
	case tea.KeyMsg:
		if p.input.active {
			if _, done := p.input.key(msg); done {
				if msg.String() == "esc" && p.pattern == "" {
					a.pop()
					return nil
				}
				if msg.String() == "enter" && p.input.value != "" {
					return p.run(a)
				}
				p.input.value = p.pattern
			}
			return nil
		}
		return p.key(a, msg)
	}
	return nil
}

func (p *searchPage) key(a *App, msg tea.KeyMsg) tea.Cmd {
	k := msg.String()
	if p.cur.move(k, len(p.rows), a.listHeight()) {
		return nil
	}
	if k == "/" {
		p.input.active = true
		return nil
	}
	if p.cur.pos >= len(p.rows) {
		return nil
	}
	row := p.rows[p.cur.pos]
	res := p.results[row.res]
	hit := res.Hits[len(res.Hits)-1]
	if row.hit >= 0 {
		hit = res.Hits[row.hit]
	}
	switch k {
	case "enter", "l", "right", "h", "left":
		if row.hit >= 0 && (k == "enter" || k == "l" || k == "right") {
			return a.openTree(hit.Snapshot, path.Dir(res.Path), path.Base(res.Path))
		}
		open := k == "enter" && !p.expanded[res.Path] || k == "l" || k == "right"
		p.expanded[res.Path] = open
		p.rebuild()
		for i, x := range p.rows {
			if x.res == row.res && x.hit < 0 {
				p.cur.pos = i
			}
		}
	case "o":
		return a.openTree(hit.Snapshot, path.Dir(res.Path), path.Base(res.Path))
	case "v":
		return a.openVersions(hit.Snapshot, res.Path)
	case " ":
		a.marks.toggle(hit.Snapshot, res.Path, hit.Node)
		p.cur.move("down", len(p.rows), a.listHeight())
	}
	return nil
}

func (p *searchPage) view(a *App, w, h int) string {
	var b strings.Builder
	scope := "all snapshots"
	if p.scope != nil {
		scope = "snapshot " + p.scope.ID.Short()
	}
	in := p.input.value
	if p.input.active {
		in += "▏"
	}
	b.WriteString(styleHeader.Render(fit(fmt.Sprintf("Find in %s: %s", scope, in), w)) + "\n")
	switch {
	case p.err != nil:
		return b.String() + styleError.Render(p.err.Error())
	case p.running:
		return b.String() + styleDim.Render("searching…")
	case p.pattern == "":
		return b.String() + styleDim.Render("type a name or a glob (*.txt, docs/**/*.md) and press enter")
	case len(p.results) == 0:
		return b.String() + styleDim.Render("no matches")
	}
	sum := plural(len(p.results), "path", "paths")
	if p.capped {
		sum = fmt.Sprintf("first %d paths", len(p.results))
	}
	b.WriteString(styleDim.Render(sum) + "\n")
	listH := h - 2
	p.cur.clamp(len(p.rows), listH)
	for i := p.cur.top; i < len(p.rows) && i < p.cur.top+listH; i++ {
		row := p.rows[i]
		res := p.results[row.res]
		gutter := "  "
		if i == p.cur.pos {
			gutter = "> "
		}
		var line string
		if row.hit < 0 {
			sign := "+"
			if p.expanded[res.Path] {
				sign = "-"
			}
			first, last := res.Hits[0].Snapshot, res.Hits[len(res.Hits)-1].Snapshot
			span := a.fmtTime(first.Time)
			if first != last {
				span += " … " + a.fmtTime(last.Time)
			}
			right := fmt.Sprintf("  %s  %s", plural(len(res.Hits), "snapshot", "snapshots"), span)
			if w-4-len([]rune(right)) < 20 {
				// Narrow: the span goes first, the path needs the room.
				right = "  " + plural(len(res.Hits), "snapshot", "snapshots")
			}
			// A path too long keeps its end: the name that matched.
			// A mark shows on the path too: space marks a collapsed
			// path's newest snapshot, whose row is hidden.
			m := " "
			for _, hit := range res.Hits {
				if a.marks.has(hit.Snapshot, res.Path) {
					m = styleMark.Render("*")
					break
				}
			}
			line = gutter + sign + m + fitLeft(printable(res.Path), max(10, w-4-len([]rune(right)))) + right
		} else {
			hit := res.Hits[row.hit]
			m := " "
			if a.marks.has(hit.Snapshot, res.Path) {
				m = styleMark.Render("*")
			}
			line = fmt.Sprintf("%s    %s %s %s  %9s  %s  %s", gutter, m, hit.Snapshot.ID.Short(), a.fmtTime(hit.Snapshot.Time),
				nodeSize(hit.Node), hit.Node.LsMode(), groupOf(hit.Snapshot))
		}
		if i == p.cur.pos {
			line = styleSelected.Render(fit(line, w))
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
