package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Drawing the restore page: the dialog, the progress bar and the report.

func (p *restorePage) view(a *App, w, h int) string {
	switch p.stage {
	case stageRunning:
		return p.progressView(a, w)
	case stageDone:
		lines := p.reportLines(a)
		p.cur.clamp(len(lines), h)
		return strings.Join(lines[p.cur.top:min(len(lines), p.cur.top+h)], "\n")
	}
	snaps := map[*repo.Snapshot]bool{}
	for _, m := range p.items {
		snaps[m.sn] = true
	}
	// Styled after wrapping, so that each line carries its style.
	head := wrapDialog(fmt.Sprintf("Restore %s from %s", plural(len(p.items), "marked entry", "marked entries"), plural(len(snaps), "snapshot", "snapshots")), w)
	for i, l := range head {
		head[i] = styleHeader.Render(l)
	}
	fields := wrapDialog(p.formText(w), w)
	form := append(append([]string{}, fields...), "")
	for _, l := range wrapDialog("enter starts · tab moves · ←/→ changes · esc cancels", w) {
		form = append(form, styleDim.Render(l))
	}
	if len(head)+len(form)+3 > h {
		// Too short for it all (40x10): the fields stay whole, as
		// much of the title as fits above them, and the entries and
		// the hint give way, so that no choice is made off the screen.
		// Shorter than the fields: those from the one being changed.
		if len(fields) > h {
			// The field's own lines run to the next field's name; a
			// folder longer than the screen shows its end, where
			// the typing goes.
			sel := 0
			for i, l := range fields {
				if strings.HasPrefix(l, "> ") {
					sel = i
				}
			}
			end := sel + 1
			for end < len(fields) && strings.HasPrefix(fields[end], "   ") {
				end++
			}
			start := min(sel, len(fields)-h)
			if end-start > h {
				start = end - h
			}
			return strings.Join(fields[start:start+h], "\n")
		}
		return strings.Join(append(head[:min(len(head), h-len(fields))], fields...), "\n")
	}
	// The form is never cut: the entries get the lines it leaves.
	room := max(1, h-len(head)-len(form)-2)
	lines := append(append(head, ""), p.itemLines(a, w, room)...)
	return strings.Join(append(append(lines, ""), form...), "\n")
}

// itemLines lists the marked entries in at most room lines, wrapped at
// w cells; those that do not fit are counted.
func (p *restorePage) itemLines(a *App, w, room int) []string {
	var items []string
	for i, m := range p.items {
		kind := ""
		if m.node != nil && m.node.Kind.String() == "dir" {
			kind = "/"
		}
		head := fmt.Sprintf("  %s %s  ", m.sn.ID.Short(), a.fmtTime(m.sn.Time))
		l := wrapDialog(head+printable(m.path)+kind, w)
		if len(items) == 0 && (len(l) > room || (i < len(p.items)-1 && len(l) == room)) {
			// A path too long for the room (a deep one) is shown on one
			// line with its end kept, rather than not at all.
			l = []string{head + fitLeft(printable(m.path)+kind, max(2, w-ansi.StringWidth(head)))}
		}
		if len(items)+len(l) > room || (i < len(p.items)-1 && len(items)+len(l) == room) {
			items = append(items, fmt.Sprintf("  … and %d more", len(p.items)-i))
			break
		}
		items = append(items, l...)
	}
	return items
}

// formText is the dialog's fields for a screen w cells wide. Radio
// buttons are joined to their names by non-breaking spaces, so that
// wrapping on a narrow screen never splits "( ) never". A folder too
// long for its line is shown whole only while it is the field being
// changed; otherwise its end is kept on one line, so that a deep
// working directory does not push the other fields off a short screen.
func (p *restorePage) formText(w int) string {
	var b strings.Builder
	sel := func(f int) string {
		if p.field == f {
			return "> "
		}
		return "  "
	}
	radio := func(on bool, name string) string {
		if on {
			return "(•)\u00a0" + name
		}
		return "(\u00a0)\u00a0" + name
	}
	fmt.Fprintf(&b, "%sWhere:     %s   %s\n", sel(fieldWhere), radio(p.original, "original location"), radio(!p.original, "folder"))
	if !p.original {
		cursor := ""
		if p.typing() {
			cursor = "▏"
		}
		folder := p.folder.value
		if room := max(2, w-len("  Folder:    ")); p.field != fieldFolder && ansi.StringWidth(folder) > room {
			folder = fitLeft(folder, room)
		}
		fmt.Fprintf(&b, "%sFolder:    %s%s\n", sel(fieldFolder), folder, cursor)
	}
	var ow []string
	for i, n := range overwriteNames {
		ow = append(ow, radio(int(p.overwrite) == i, n))
	}
	fmt.Fprintf(&b, "%sExisting:  %s\n", sel(fieldOverwrite), strings.Join(ow, "   "))
	fmt.Fprintf(&b, "%s[ Start restore ]", sel(fieldStart))
	return b.String()
}

// wrapDialog wraps each line of s at w cells (a long path is broken
// where the line ends), indenting the lines it adds under the text, so
// that nothing is cut on a narrow screen. Non-breaking spaces become
// plain ones.
func wrapDialog(s string, w int) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if ansi.StringWidth(line) <= w {
			out = append(out, line)
			continue
		}
		body := strings.TrimLeft(line, " >")
		indent := strings.Repeat(" ", min(len(line)-len(body)+2, w/3))
		first, rest, _ := strings.Cut(wrapCells(line, w), "\n")
		out = append(out, first)
		// The rest is the line after the first one's text: a path
		// broken after a hyphen is not given a space there.
		if r, ok := strings.CutPrefix(line, first); ok {
			rest = strings.TrimLeft(r, " ")
		} else {
			rest = strings.Join(strings.Fields(strings.ReplaceAll(rest, "\n", " ")), " ")
		}
		for _, l := range strings.Split(wrapCells(rest, w-len(indent)), "\n") {
			out = append(out, indent+l)
		}
	}
	for i, l := range out {
		out[i] = strings.ReplaceAll(l, "\u00a0", " ")
	}
	return out
}

// wrapCells breaks s at spaces into lines of at most w cells, and a word
// wider than that (a path) where the line ends.
func wrapCells(s string, w int) string {
	return ansi.Hardwrap(ansi.Wordwrap(s, w, ""), w, true)
}

// perFileCost is what a file weighs beyond its bytes in the bar and the
// ETA: creating it, opening its chunks and setting its metadata take
// about as long as writing this much, so thousands of small files left
// keep the bar short of full.
const perFileCost = 32 << 10

// progress sums the finished jobs and the running one: bytes and files
// done, and their totals. known says the totals are final (else they are
// what the running job's walk found so far, and files has no total).
func (p *restorePage) progress() (done, total workSize, known bool) {
	known = p.totalOK
	for i, j := range p.jobs {
		var plan workSize
		if known {
			plan = p.sizes[i]
			total.bytes += plan.bytes
			total.files += plan.files
		}
		switch {
		case j.done && known && j.err == nil:
			// At its planned size: files kept or linked count as done.
			done.bytes += plan.bytes
			done.files += plan.files
		case j.done && j.stats != nil:
			done.bytes += j.stats.Bytes
			done.files += j.stats.Files
		case i == p.job:
			d := workSize{bytes: p.prog.BytesDone, files: p.prog.FilesDone}
			if known {
				d = workSize{bytes: min(d.bytes, plan.bytes), files: min(d.files, plan.files)}
			}
			done.bytes += d.bytes
			done.files += d.files
		}
	}
	if !known {
		total = workSize{bytes: done.bytes - min(p.prog.BytesDone, done.bytes) + p.prog.TotalBytes, files: done.files}
		known = p.job == len(p.jobs)-1 && p.prog.WalkDone
		total.bytes = max(total.bytes, done.bytes)
	}
	return done, total, known
}

func (w workSize) cost() float64 { return float64(w.bytes) + float64(w.files)*perFileCost }

func (p *restorePage) progressView(a *App, w int) string {
	var b strings.Builder
	j := p.jobs[min(p.job, len(p.jobs)-1)]
	fmt.Fprintf(&b, "%s\n\n", styleHeader.Render(fit(fmt.Sprintf("Restoring %s of snapshot %s to %s (%d/%d)",
		printable(j.path), j.sn.ID.Short(), printable(j.dst), p.job+1, len(p.jobs)), w)))
	done, total, known := p.progress()
	frac := 0.0
	if total.cost() > 0 {
		frac = min(1, done.cost()/total.cost())
	}
	fmt.Fprintf(&b, "%s %3.0f%%\n\n", progressBar(frac, max(10, w-10)), math.Floor(frac*100))
	elapsed := time.Since(p.started)
	if a.static {
		elapsed = 0
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done.bytes) / s
	}
	files := plural(int(done.files), "file", "files")
	totalS := formatBytes(total.bytes)
	if p.totalOK {
		files = fmt.Sprintf("%d/%d files", done.files, total.files)
	}
	if !known {
		totalS += "+"
	}
	fmt.Fprintf(&b, "%s  %s of %s  %s/s", files, formatBytes(done.bytes), totalS, formatBytes(int64(rate)))
	if left := total.cost() - done.cost(); known && elapsed > 0 && done.cost() > 0 && left > 0 {
		// Whole seconds, rounded up: never 0:00 while work is left.
		eta := time.Duration(float64(elapsed) * left / done.cost())
		eta = max(time.Second, (eta + time.Second - 1).Truncate(time.Second))
		fmt.Fprintf(&b, "  ETA %s", formatDuration(eta))
	}
	fmt.Fprintf(&b, "  elapsed %s\n\n", formatDuration(elapsed))
	if p.canceled {
		b.WriteString("stopping… ctrl+c again quits at once")
	} else {
		b.WriteString(styleDim.Render("esc, q or ctrl+c stops the restore"))
	}
	return b.String()
}

// reportLines is the final report: totals, what became of each marked
// entry and where it went, then every failure and notice.
func (p *restorePage) reportLines(a *App) []string {
	var out []string
	var sum restore.Stats
	counts := map[string]int{}
	width := max(20, a.w-2)
	for _, j := range p.jobs {
		counts[p.state(j)]++
		if st := j.stats; st != nil {
			sum.Files += st.Files
			sum.Dirs += st.Dirs
			if j.node != nil && j.node.Kind == tree.KindDir && j.err == nil {
				sum.Dirs++ // the marked folder itself, restore's target
			}
			sum.Links += st.Links
			sum.Others += st.Others
			sum.Bytes += st.Bytes
			sum.Skipped += st.Skipped
		}
	}
	sum.Dirs += int64(p.report.parents)
	switch {
	case p.canceled:
		head := fmt.Sprintf("Restore stopped after %s", formatDuration(p.report.elapsed))
		n, exact := p.notRestored()
		switch {
		case n > 0 && exact:
			head += fmt.Sprintf(": %s not restored (nothing partial left).", plural(int(n), "file", "files"))
		case n > 0:
			head += fmt.Sprintf(": at least %s not restored (nothing partial left).", plural(int(n), "file", "files"))
		case counts["restored"]+counts["kept"] < len(p.jobs):
			head += ": the rest not restored (nothing partial left)."
		default:
			head += " (nothing partial left)."
		}
		for _, l := range wrapReport(head, width, "") {
			out = append(out, styleError.Render(l))
		}
	case p.ok():
		out = append(out, styleHeader.Render(fmt.Sprintf("Restore finished in %s.", formatDuration(p.report.elapsed))))
	default:
		out = append(out, styleError.Render("Restore finished with failures."))
	}
	if p.startErr != nil {
		// Wrapped, not cut: a lock error's advice comes at its end.
		for _, l := range wrapReport(printable(p.startErr.Error()), width, "  ") {
			out = append(out, styleError.Render(l))
		}
	}
	out = append(out, "")
	out = append(out, wrapReport(fmt.Sprintf("%s, %s, %s, %s, %s written; %d existing kept",
		plural(int(sum.Files), "file", "files"), plural(int(sum.Dirs), "folder", "folders"), plural(int(sum.Links), "link", "links"),
		plural(int(sum.Others), "other", "others"), formatBytes(sum.Bytes), sum.Skipped), width, "")...)
	out = append(out, "")
	var last *repo.Snapshot
	for _, j := range p.jobs {
		if j.sn != last {
			out = append(out, fmt.Sprintf("from snapshot %s %s:", j.sn.ID.Short(), a.fmtTime(j.sn.Time)))
			last = j.sn
		}
		line := fmt.Sprintf("  %-12s %s", p.state(j), printable(j.path))
		if j.dst != filepath.FromSlash(j.path) {
			line += " → " + printable(j.dst)
		}
		out = append(out, cutLines(line, width, strings.Repeat(" ", 15))...)
		if j.err != nil && !errors.Is(j.err, restore.ErrIncomplete) && !errors.Is(j.err, context.Canceled) {
			for _, l := range wrapReport(printable(j.err.Error()), width, "    ") {
				out = append(out, styleError.Render(l))
			}
		}
	}
	if len(p.report.failures) > 0 {
		out = append(out, "", styleError.Render(plural(len(p.report.failures), "failure", "failures")+":"))
		for _, f := range p.report.failures {
			out = append(out, wrapReport(printable(f), width, "  ")...)
		}
	}
	if len(p.report.notices) > 0 {
		out = append(out, "", plural(len(p.report.notices), "notice", "notices")+":")
		for _, n := range p.report.notices {
			out = append(out, wrapReport(printable(n), width, "  ")...)
		}
	}
	out = append(out, "", styleDim.Render("esc closes"))
	return out
}

// progressBar draws frac (0..1) as a bar of width cells. (bubbles'
// progress needs harmonica, which the module does not require.)
func progressBar(frac float64, width int) string {
	full := int(math.Floor(min(max(frac, 0), 1) * float64(width))) // full only when done
	return styleMark.Render(strings.Repeat("█", full)) + styleDim.Render(strings.Repeat("░", width-full))
}

// dialogWording says the CLI's --overwrite hints in the dialog's terms.
var dialogWording = strings.NewReplacer(
	"use --overwrite always to replace it", "choose 'always' to replace it",
	"kept: --overwrite never", "kept: 'never' chosen",
).Replace

// wrapReport breaks s into lines of at most width cells at single
// spaces, the first indented by indent and the others by two more spaces;
// a word longer than a line (a path) is cut where the line ends. Runs of
// spaces are kept as they are, inside the word they join: a file name
// with two spaces in it, or aligned text, is shown as it is, not with one
// space where it has two.
func wrapReport(s string, width int, indent string) []string {
	var out []string
	pre := indent
	line := ""
	room := func() int { return max(10, width-len(pre)) }
	flush := func() {
		out = append(out, pre+line)
		pre, line = indent+"  ", ""
	}
	cells := ansi.StringWidth
	for _, word := range reportWords(s) {
		if line != "" && cells(line)+1+cells(word) > room() {
			if cells(word) <= room() {
				flush()
			}
		}
		if line != "" {
			line += " "
		}
		for cells(line)+cells(word) > room() {
			// Cells, not runes: a double-width character takes two.
			head := ansi.Truncate(word, room()-cells(line), "")
			line += head
			word = word[len(head):]
			flush()
		}
		line += word
	}
	if line != "" || len(out) == 0 {
		flush()
	}
	return out
}

// reportWords splits s at its lone spaces: a space with another beside
// it belongs to the text around it, which stays whole.
func reportWords(s string) []string {
	s = strings.TrimRight(s, " ")
	var words []string
	start := 0
	for i := 1; i+1 < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' && s[i+1] != ' ' {
			words = append(words, s[start:i])
			start = i + 1
		}
	}
	return append(words, s[start:])
}

// cutLines breaks s, spaces and all, into lines of at most width cells,
// the ones after the first indented by indent.
func cutLines(s string, width int, indent string) []string {
	room := max(10, width)
	var out []string
	for ansi.StringWidth(s) > room {
		// Cells, not runes: a double-width character takes two.
		head := ansi.Truncate(s, room, "")
		out = append(out, head)
		s = indent + s[len(head):]
		room = max(len(indent)+10, width)
	}
	return append(out, s)
}
