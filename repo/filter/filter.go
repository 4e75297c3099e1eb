// Package filter matches paths against exclude and include patterns with
// restic's semantics, so patterns people already use keep working:
//
//   - A pattern is split at "/" and matched component by component with
//     shell globbing (*, ?, [...]); "**" matches any number of components.
//   - A pattern starting with "/" is anchored at the root; any other pattern
//     may match starting at any depth ("*.tmp" matches every .tmp file,
//     "cache/x" matches every x inside a folder named cache).
//   - A pattern starting with "!" re-includes what an earlier pattern
//     excluded; the last pattern that matches decides.
//   - A pattern matches a path when it matches the whole path or a leading
//     part of it, so excluding a folder excludes everything inside.
package filter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"strings"
	"unicode/utf16"
)

// Pattern is one parsed pattern.
type Pattern struct {
	raw      string
	parts    []string
	anchored bool
	negate   bool
}

// Parse checks and parses patterns.
func Parse(patterns []string) ([]Pattern, error) {
	var out []Pattern
	for _, p := range patterns {
		raw := p
		// Not trimmed: like restic, a pattern given as it is may start or
		// end with spaces (ReadFile trims the lines of a file).
		if p == "" {
			continue
		}
		pt := Pattern{raw: raw}
		if strings.HasPrefix(p, "!") {
			pt.negate = true
			p = p[1:]
		}
		if strings.HasPrefix(p, "/") {
			pt.anchored = true
		}
		p = strings.Trim(path.Clean("/"+p), "/")
		if p == "" {
			return nil, fmt.Errorf("pattern %q matches everything", raw)
		}
		pt.parts = strings.Split(p, "/")
		for _, c := range pt.parts {
			if _, err := path.Match(c, ""); err != nil {
				return nil, fmt.Errorf("bad pattern %q: %v", raw, err)
			}
		}
		out = append(out, pt)
	}
	return out, nil
}

// ReadFile reads patterns from a file as restic reads its exclude files:
// one a line, each trimmed of spaces (and of a CR); blank lines and lines
// starting with # are skipped; $VAR and ${VAR} are replaced by the
// environment's values ($$ is a $); a UTF-8 byte order mark is dropped and
// a file with a UTF-16 byte order mark is decoded.
func ReadFile(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	data = decodeText(data)
	var out []string
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		l = os.Expand(l, func(v string) string {
			if v == "$" {
				return "$"
			}
			return os.Getenv(v)
		})
		out = append(out, l)
	}
	return out, s.Err()
}

// DecodeText is how a list written by hand is read, as restic reads its
// text files: a UTF-8 byte order mark is dropped, and UTF-16 text with a
// byte order mark is turned into UTF-8.
func DecodeText(b []byte) []byte { return decodeText(b) }

// decodeText drops a UTF-8 byte order mark and turns UTF-16 text with a
// byte order mark into UTF-8.
func decodeText(b []byte) []byte {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return b[3:]
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		order = binary.LittleEndian
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		order = binary.BigEndian
	default:
		return b
	}
	b = b[2:]
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	return []byte(string(utf16.Decode(u)))
}

// ExcludedBelow reports whether p (an absolute, clean path) inside a folder
// given on the command line, root components deep (/home/alice is 2), is
// excluded by the patterns; the last matching pattern decides. A match must
// reach below that folder: the given folder is taken whole, so a pattern
// that matches only it or its parents ("tmp" while ingesting /tmp/x)
// excludes nothing.
func ExcludedBelow(patterns []Pattern, p string, root int) bool {
	return lastMatch(patterns, path2{comps: split(p)}, root)
}

// path2 is a path's components, and when the patterns are also taken
// relative to a folder inside the snapshot (Includer.Beneath), those
// below that folder (rel, nil when the path is not below it).
type path2 struct{ comps, rel []string }

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// matchesBelow: the pattern matches comps[i:j] for a start i (0 when
// anchored) and an end j > minEnd; trailing components may follow. An
// anchored pattern may also match from the start of p.rel.
func (pt Pattern) matchesBelow(p path2, minEnd int) bool {
	comps := p.comps
	if pt.anchored {
		return matchAt(pt.parts, comps, 0, minEnd) || p.rel != nil && matchAt(pt.parts, p.rel, 0, 0)
	}
	for i := 0; i <= len(comps); i++ {
		if matchAt(pt.parts, comps, i, minEnd) {
			return true
		}
	}
	return false
}

// matchAt matches parts against comps from index pos; the match must end
// after index minEnd.
func matchAt(parts, comps []string, pos, minEnd int) bool {
	if len(parts) == 0 {
		return pos > minEnd
	}
	if parts[0] == "**" {
		for j := pos; j <= len(comps); j++ {
			if matchAt(parts[1:], comps, j, minEnd) {
				return true
			}
		}
		return false
	}
	if pos >= len(comps) {
		return false
	}
	if ok, _ := path.Match(parts[0], comps[pos]); !ok {
		return false
	}
	return matchAt(parts[1:], comps, pos+1, minEnd)
}

// Includer decides what a restore takes: with include patterns (matched
// as they are, or regardless of case), a path when a pattern matches it or
// a parent of it; without, everything; either way minus what the exclude
// patterns (as they are, or regardless of case) match, with the last
// matching pattern of a list deciding. A directory is entered when some
// include pattern could match below it and no exclude pattern matches it.
type Includer struct {
	incl, iincl, excl, iexcl []Pattern
	root                     []string // Beneath's folder, split
}

// NewIncluder parses include patterns; none means everything is included.
func NewIncluder(patterns []string) (*Includer, error) {
	return NewSelection(patterns, nil, nil, nil)
}

// NewSelection parses include and exclude patterns, those matched as they
// are and those matched regardless of case.
func NewSelection(include, iinclude, exclude, iexclude []string) (*Includer, error) {
	var in Includer
	for _, l := range []struct {
		dst  *[]Pattern
		pats []string
		fold bool
	}{{&in.incl, include, false}, {&in.iincl, iinclude, true}, {&in.excl, exclude, false}, {&in.iexcl, iexclude, true}} {
		pats := l.pats
		if l.fold {
			pats = make([]string, len(l.pats))
			for i, p := range l.pats {
				pats[i] = strings.ToLower(p)
			}
		}
		ps, err := Parse(pats)
		if err != nil {
			return nil, err
		}
		*l.dst = ps
	}
	return &in, nil
}

// Beneath returns a copy of in for a restore of the folder root (a path
// relative to the snapshot root, "home/alice"): an anchored pattern
// ("/Documents") also matches relative to that folder, as restic's
// SNAP:subfolder takes it, besides relative to the snapshot root
// ("/home/alice/Documents"), as the paths ls shows. A restic user's
// --exclude /Downloads with --delete must keep /home/alice/Downloads
// out of the restore, not roll it back.
func (in *Includer) Beneath(root string) *Includer {
	if in == nil || split(root) == nil {
		return in
	}
	c := *in
	c.root = split(root)
	return &c
}

// Includes reports whether path p (relative to the snapshot root) is taken
// whole.
func (in *Includer) Includes(p string) bool {
	if in == nil {
		return true
	}
	comps, lower := in.split(p)
	if in.excluded(comps, lower) {
		return false
	}
	if len(in.incl) == 0 && len(in.iincl) == 0 {
		return true
	}
	return lastMatch(in.incl, comps, 0) || lastMatch(in.iincl, lower, 0)
}

// split returns p's components, and those of p lower-cased when a pattern
// needs them.
func (in *Includer) split(p string) (comps, lower path2) {
	comps = in.below(split(p))
	if len(in.iincl) > 0 || len(in.iexcl) > 0 {
		lower = in.below(split(strings.ToLower(p)))
	}
	return comps, lower
}

// below adds to comps the components below in.root, when it is inside it.
// (The root's name is matched as it is, lower-cased or not: a restore's
// folder is one path, whatever the case of the patterns.)
func (in *Includer) below(comps []string) path2 {
	p := path2{comps: comps}
	if in.root == nil || len(comps) < len(in.root) {
		return p
	}
	for i, c := range in.root {
		if !strings.EqualFold(c, comps[i]) {
			return p
		}
	}
	p.rel = comps[len(in.root):]
	return p
}

func (in *Includer) excluded(comps, lower path2) bool {
	return lastMatch(in.excl, comps, 0) || lastMatch(in.iexcl, lower, 0)
}

// lastMatch reports whether the last pattern that matches comps (or a
// leading part of them, ending after index minEnd) is not a "!" one.
func lastMatch(patterns []Pattern, comps path2, minEnd int) bool {
	m := false
	for _, pt := range patterns {
		if pt.matchesBelow(comps, minEnd) {
			m = !pt.negate
		}
	}
	return m
}

// MayContain reports whether directory p could hold an included path.
func (in *Includer) MayContain(p string) bool {
	if in == nil {
		return true
	}
	comps, lower := in.split(p)
	if in.excluded(comps, lower) {
		return false
	}
	if len(in.incl) == 0 && len(in.iincl) == 0 {
		return true
	}
	return mayExtend(in.incl, comps) || mayExtend(in.iincl, lower)
}

// mayExtend reports whether a pattern could match a path below comps.
func mayExtend(patterns []Pattern, comps path2) bool {
	for _, pt := range patterns {
		if pt.negate {
			continue
		}
		if !pt.anchored {
			return true
		}
		if couldExtend(pt.parts, comps.comps) || comps.rel != nil && couldExtend(pt.parts, comps.rel) {
			return true
		}
	}
	return false
}

// couldExtend: comps is a possible leading part of a path the pattern matches.
func couldExtend(parts, comps []string) bool {
	if len(comps) == 0 {
		return true
	}
	if len(parts) == 0 {
		return true // the pattern matched a parent: everything below is in
	}
	if parts[0] == "**" {
		return true
	}
	if ok, _ := path.Match(parts[0], comps[0]); !ok {
		return false
	}
	return couldExtend(parts[1:], comps[1:])
}
