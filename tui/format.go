package tui

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-backup/cairn/repo/tree"
)

// formatBytes is a short human size: 999 B, 1.5 KiB, 12 MiB.
func formatBytes(n int64) string {
	neg := ""
	if n < 0 {
		neg, n = "-", -n
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%s%d B", neg, n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v >= 100 {
		return fmt.Sprintf("%s%.0f %ciB", neg, v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%s%.1f %ciB", neg, v, "KMGTPE"[exp])
}

// formatDelta is a size change with its sign: +1.2 KiB, -30 B, 0 B.
func formatDelta(n int64) string {
	if n > 0 {
		return "+" + formatBytes(n)
	}
	return formatBytes(n)
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func owner(n *tree.Node) string {
	u, g := n.User, n.Group
	if u == "" {
		u = fmt.Sprint(n.UID)
	}
	if g == "" {
		g = fmt.Sprint(n.GID)
	}
	return u + ":" + g
}

// nodeSize is what the size column shows for n.
func nodeSize(n *tree.Node) string {
	switch n.Kind {
	case tree.KindFile:
		return formatBytes(int64(n.Size))
	case tree.KindCharDev, tree.KindBlockDev:
		return fmt.Sprintf("%d,%d", n.DevMajor, n.DevMinor)
	}
	return ""
}

// fit cuts s to width cells (with an ellipsis) or pads it to width.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		// A wide character that would straddle the edge is dropped
		// whole, so the cut can come out a cell short: pad it too.
		s = ansi.Truncate(s, width, "…")
		w = ansi.StringWidth(s)
	}
	if w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// fitLeft keeps the end of s (a path, say) when it is too wide.
func fitLeft(s string, width int) string {
	if w := ansi.StringWidth(s); w > width && width > 1 {
		// Cutting into a double-width character keeps it whole: cut
		// one cell more then, and let fit pad what is left.
		tail := ansi.TruncateLeft(s, w-width+1, "")
		for cut := w - width + 2; ansi.StringWidth(tail) > width-1; cut++ {
			tail = ansi.TruncateLeft(s, cut, "")
		}
		return fit("…"+tail, width)
	}
	return fit(s, width)
}

// padLeft right-aligns s in width cells.
func padLeft(s string, width int) string {
	if w := ansi.StringWidth(s); w < width {
		return strings.Repeat(" ", width-w) + s
	}
	return fit(s, width)
}

// printable makes a raw name safe to draw: control characters (C0, DEL,
// C1), the bidirectional controls that would reorder the screen, and
// invalid UTF-8 are shown escaped.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}

// unsafeRune reports a rune that printable escapes (%q escapes each of
// them, since none is printable to strconv).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == utf8.RuneError:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // embeddings, overrides, isolates
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c: // direction marks
		return true
	}
	return false
}

// plural is "1 entry" or "2 entries": n and the right form.
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
