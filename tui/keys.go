package tui

import tea "github.com/charmbracelet/bubbletea"

// binding is one line of the help overlay: the keys and what they do.
type binding struct{ keys, help string }

// globalKeys work on every page (except while typing into a field).
var globalKeys = []binding{
	{"?", "show or hide this help (on a short screen ↑/↓ scroll it)"},
	{"q / esc", "back (q on the first page quits, asking first if entries are marked)"},
	{"ctrl+c", "quit (a running restore is stopped first)"},
	{"R", "restore the marked files"},
	{"M", "clear all marks (asks first if several)"},
}

// listKeys move a cursor in any list.
var listKeys = []binding{
	{"↑/k ↓/j", "move"},
	{"pgup/ctrl+b pgdn/ctrl+f", "page up / down"},
	{"home/g end/G", "first / last"},
}

// key names as tea.KeyMsg.String() spells them.
func isUp(k string) bool     { return k == "up" || k == "k" }
func isDown(k string) bool   { return k == "down" || k == "j" }
func isPgUp(k string) bool   { return k == "pgup" || k == "ctrl+b" }
func isPgDown(k string) bool { return k == "pgdown" || k == "ctrl+f" }
func isHome(k string) bool   { return k == "home" || k == "g" }
func isEnd(k string) bool    { return k == "end" || k == "G" }

// cursor is a position in a list of n rows shown height at a time.
type cursor struct {
	pos, top int
}

// move handles the list keys; it reports whether k was one.
func (c *cursor) move(k string, n, height int) bool {
	switch {
	case isUp(k):
		c.pos--
	case isDown(k):
		c.pos++
	case isPgUp(k):
		c.pos -= max(1, height-1)
	case isPgDown(k):
		c.pos += max(1, height-1)
	case isHome(k):
		c.pos = 0
	case isEnd(k):
		c.pos = n - 1
	default:
		return false
	}
	c.clamp(n, height)
	return true
}

// scroll handles the list keys for a text with no cursor, n lines shown
// height at a time: they move the window itself. It reports whether k
// was one.
func (c *cursor) scroll(k string, n, height int) bool {
	height = max(1, height)
	switch {
	case isUp(k):
		c.top--
	case isDown(k):
		c.top++
	case isPgUp(k):
		c.top -= max(1, height-1)
	case isPgDown(k):
		c.top += max(1, height-1)
	case isHome(k):
		c.top = 0
	case isEnd(k):
		c.top = n - height
	default:
		return false
	}
	c.top = max(0, min(c.top, n-height))
	c.pos = c.top
	return true
}

// clamp keeps pos inside the list and the window around it.
func (c *cursor) clamp(n, height int) {
	c.pos = max(0, min(c.pos, n-1))
	height = max(1, height)
	if c.pos < c.top {
		c.top = c.pos
	}
	if c.pos >= c.top+height {
		c.top = c.pos - height + 1
	}
	c.top = max(0, min(c.top, n-height))
}

// lineEdit is a one-line text field: typing, backspace, ctrl+u, and
// alt+backspace or ctrl+w for the last word. Other alt keys do nothing.
type lineEdit struct {
	value  string
	active bool
}

// key edits the field; done is true on enter (accepted) or esc
// (cancelled, which clears the field).
func (e *lineEdit) key(msg tea.KeyMsg) (changed, done bool) {
	switch msg.String() {
	case "enter":
		e.active = false
		return false, true
	case "esc":
		e.active = false
		changed = e.value != ""
		e.value = ""
		return changed, true
	case "backspace", "ctrl+h":
		if e.value != "" {
			r := []rune(e.value)
			e.value = string(r[:len(r)-1])
			return true, false
		}
		return false, false
	case "ctrl+u":
		e.value = ""
		return true, false
	case "alt+backspace", "ctrl+w":
		// The last word, as in readline, with the spaces or the
		// slash after it: "/srv/www/" becomes "/srv/".
		if e.value == "" {
			return false, false
		}
		r := []rune(e.value)
		i := len(r)
		for i > 0 && (r[i-1] == ' ' || r[i-1] == '/') {
			i--
		}
		for i > 0 && r[i-1] != ' ' && r[i-1] != '/' {
			i--
		}
		e.value = string(r[:i])
		return true, false
	case " ":
		e.value += " "
		return true, false
	}
	if msg.Type == tea.KeyRunes && !msg.Alt {
		e.value += string(msg.Runes)
		return true, false
	}
	return false, false
}
