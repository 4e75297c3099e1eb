package search

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// matcher runs a pattern over a path one component at a time, as a small
// NFA whose state is a bitset of positions in the pattern's parts: the
// states after a folder are all that its entries' matching depends on, so
// the matches inside a tree are the same wherever the tree appears with
// the same states, and can be remembered per (tree ID, states).
type matcher struct {
	parts    []string
	anchored bool
	fold     bool
}

// states is a set of positions in matcher.parts; bit len(parts) is the
// accepting state.
type states uint64

func newMatcher(pattern string, ignoreCase bool) (*matcher, error) {
	if ignoreCase {
		pattern = fold(pattern)
	}
	m := &matcher{fold: ignoreCase}
	if strings.Contains(pattern, "/") {
		m.anchored = strings.HasPrefix(pattern, "/")
		p := strings.Trim(path.Clean("/"+pattern), "/")
		if p == "" {
			return nil, fmt.Errorf("pattern %q matches no name", pattern)
		}
		m.parts = strings.Split(p, "/")
	} else {
		if pattern == "" {
			return nil, fmt.Errorf("empty pattern")
		}
		m.parts = []string{pattern}
	}
	if len(m.parts) > 62 {
		return nil, fmt.Errorf("pattern %q has too many components", pattern)
	}
	for _, c := range m.parts {
		if _, err := path.Match(c, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %v", pattern, err)
		}
	}
	return m, nil
}

// start is the states at the snapshot's root folder.
func (m *matcher) start() states { return m.closure(1) }

// closure adds the positions reachable past "**" without a component.
func (m *matcher) closure(s states) states {
	for i, p := range m.parts {
		if p == "**" && s&(1<<i) != 0 {
			s |= 1 << (i + 1)
		}
	}
	return s
}

// step moves the states of a folder over one entry's name.
func (m *matcher) step(s states, name string) states {
	if !m.anchored {
		s |= m.start()
	}
	if m.fold {
		name = fold(name)
	}
	var next states
	for i, p := range m.parts {
		if s&(1<<i) == 0 {
			continue
		}
		if p == "**" {
			next |= 1 << i
			continue
		}
		if ok, _ := path.Match(p, name); ok {
			next |= 1 << (i + 1)
		}
	}
	return m.closure(next)
}

// accepts reports whether an entry with states s matches the pattern.
func (m *matcher) accepts(s states) bool { return s&(1<<len(m.parts)) != 0 }

// alive reports whether anything below a folder with states s can match.
func (m *matcher) alive(s states) bool {
	return !m.anchored || s&^(1<<len(m.parts)) != 0
}

// inside is the part of a folder's states that its entries depend on:
// the memo key for the folder's tree.
func (m *matcher) inside(s states) states {
	s &^= 1 << len(m.parts)
	if !m.anchored {
		s |= m.start()
	}
	return s
}

// fold maps s to one case for IgnoreCase: each rune to the lower case of
// its upper case, so that letters with two lower forms (σ and ς) meet.
// Bytes that are not UTF-8 are kept as they are: strings.ToLower would
// make them all one replacement character, and names that differ equal.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteByte(s[i])
		} else {
			b.WriteRune(unicode.ToLower(unicode.ToUpper(r)))
		}
		i += size
	}
	return b.String()
}
