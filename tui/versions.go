package tui

import (
	"context"
	"fmt"
	"path"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/search"
	"github.com/cairn-backup/cairn/repo/tree"
)

// versionsPage lists the distinct versions of one path across every
// snapshot.
type versionsPage struct {
	path     string
	from     *repo.Snapshot // where the user came from
	versions []search.Version
	loading  bool
	err      error
	cur      cursor
}

type versionsLoaded struct {
	versions []search.Version
	err      error
	snaps    *snapshotsLoaded // the list read anew
}

// allSnapshots is the loaded snapshot list, oldest first.
func (a *App) allSnapshots() []*repo.Snapshot { return a.stack[0].(*snapshotsPage).all }

// openVersions pushes the versions of path p (sn is where the user was).
func (a *App) openVersions(sn *repo.Snapshot, p string) tea.Cmd {
	pg := &versionsPage{path: p, from: sn, loading: true}
	r := a.r
	return a.push(pg, a.load(pg, func(ctx context.Context) any {
		// The snapshots the repository holds now: ingests commit new
		// ones while the browser stays open.
		l := loadSnapshots(ctx, r)
		if l.err != nil {
			return versionsLoaded{err: l.err}
		}
		vs, err := search.Versions(ctx, r, l.snaps, p)
		return versionsLoaded{versions: vs, err: err, snaps: &l}
	}))
}

func (p *versionsPage) title() string    { return "versions " + printable(path.Base(p.path)) }
func (p *versionsPage) typing() bool     { return false }
func (p *versionsPage) back(a *App) bool { return false }

func (p *versionsPage) help() []binding {
	return append([]binding{
		{"enter", "preview this version"},
		{"o", "open the snapshot's tree at this file"},
		{"space", "mark this version for restore"},
		{"r", "restore this version now"},
	}, listKeys...)
}

// start is the version to open on: the one the user's snapshot holds,
// else the newest of the same host and source, else the newest.
func (p *versionsPage) start() int {
	sn := p.from
	if sn == nil {
		return len(p.versions) - 1
	}
	same := func(x *repo.Snapshot) bool { return x == sn || !x.ID.IsZero() && x.ID == sn.ID }
	for i := len(p.versions) - 1; i >= 0; i-- {
		// A version runs from its Snapshot to its Last, in time order.
		v := p.versions[i]
		if same(v.Snapshot) || same(v.Last) || !sn.Time.Before(v.Snapshot.Time) && !sn.Time.After(v.Last.Time) {
			return i
		}
	}
	for i := len(p.versions) - 1; i >= 0; i-- {
		v := p.versions[i]
		if v.Snapshot.Host == sn.Host && v.Snapshot.Source == sn.Source || v.Last.Host == sn.Host && v.Last.Source == sn.Source {
			return i
		}
	}
	return len(p.versions) - 1
}

func (p *versionsPage) selected() *search.Version {
	if p.cur.pos < 0 || p.cur.pos >= len(p.versions) {
		return nil
	}
	return &p.versions[p.cur.pos]
}

func (p *versionsPage) update(a *App, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case versionsLoaded:
		var cmd tea.Cmd
		if msg.snaps != nil {
			// The list shows what the versions were taken from.
			cmd = a.stack[0].update(a, *msg.snaps)
		}
		p.loading, p.versions, p.err = false, msg.versions, msg.err
		p.cur.pos = p.start()
		p.cur.top = p.cur.pos - a.listHeight()/2
		p.cur.clamp(len(p.versions), a.listHeight())
		return cmd
	case tea.KeyMsg:
		k := msg.String()
		if p.cur.move(k, len(p.versions), a.listHeight()) {
			return nil
		}
		v := p.selected()
		if v == nil {
			return nil
		}
		switch k {
		case "enter", "l", "right":
			return a.openPreview(v.Snapshot, p.path, v.Node)
		case "o":
			return a.openTree(v.Snapshot, path.Dir(p.path), path.Base(p.path))
		case " ":
			a.marks.toggle(v.Snapshot, p.path, v.Node)
		case "r":
			return a.openRestore([]*mark{{sn: v.Snapshot, path: p.path, node: v.Node}})
		}
	}
	return nil
}

func (p *versionsPage) view(a *App, w, h int) string {
	var b strings.Builder
	head := printable(p.path)
	if !p.loading {
		head += "  " + plural(len(p.versions), "version", "versions")
	}
	b.WriteString(styleHeader.Render(fitLeft(head, w)) + "\n")
	switch {
	case p.err != nil:
		return b.String() + styleError.Render(p.err.Error())
	case p.loading:
		return b.String()
	case len(p.versions) == 0:
		return b.String() + styleDim.Render("  in no snapshot")
	}
	// Versions of several hosts and sources interleave in time: each
	// line says whose it is, and compares with that one's version before.
	whoW := len([]rune("HOST · SOURCE"))
	for _, v := range p.versions {
		whoW = max(whoW, len([]rune(groupOf(v.Snapshot))))
	}
	whoW = min(whoW, max(13, w/5))
	b.WriteString(styleDim.Render(fmt.Sprintf("    %-8s %-19s %s %9s %10s  %-8s  %s", "ID", "TIME", fit("HOST · SOURCE", whoW), "SIZE", "CHANGE", "", "KEPT IN")) + "\n")
	listH := h - 2
	p.cur.clamp(len(p.versions), listH)
	for i := p.cur.top; i < len(p.versions) && i < p.cur.top+listH; i++ {
		v := p.versions[i]
		gutter := "  "
		if i == p.cur.pos {
			gutter = "> "
		}
		m := " "
		if a.marks.has(v.Snapshot, p.path) {
			m = styleMark.Render("*")
		}
		delta := ""
		if v.Previous != nil {
			delta = formatDelta(int64(v.Node.Size) - int64(v.Previous.Node.Size))
		}
		size := nodeSize(v.Node)
		if v.Node.Kind != tree.KindFile {
			size = v.Node.Kind.String()
		}
		kept := plural(v.Count, "snapshot", "snapshots")
		if v.Last != nil && v.Last != v.Snapshot {
			kept += " until " + a.fmtTime(v.Last.Time)
		}
		line := fmt.Sprintf("%s%s %-8s %-19s %s %9s %10s  %-8s  %s", gutter, m, v.Snapshot.ID.Short(), a.fmtTime(v.Snapshot.Time),
			fit(groupOf(v.Snapshot), whoW), size, delta, v.Change, kept)
		if i == p.cur.pos {
			line = styleSelected.Render(fit(line, w))
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
