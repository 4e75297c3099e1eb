package daemon

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Default values applied by Parse to keys left out (and DefaultSocket).
const (
	DefaultConcurrency = 1
	DefaultStopTimeout = Duration(60e9)  // 1m
	DefaultHookTimeout = Duration(600e9) // 10m
)

// Error is one problem in a config file. Parse and Load return every
// problem they find, joined (errors.Join) in file order; errors.As finds the
// first.
type Error struct {
	File      string
	Line, Col int // 1-based; 0 when unknown
	Msg       string
}

// Error formats the problem as FILE:LINE:COL: message.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Col == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Load reads and checks the config file at path (see Parse).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse reads a config from data, naming it name in errors. It reports
// every problem it finds, each as an *Error with its position: unknown or
// repeated keys, values of the wrong type, and values that would make the
// daemon fail later (bad schedules, durations, retention policies,
// addresses...). Only a config without problems gets its defaults filled
// in and is returned.
func Parse(name string, data []byte) (*Config, error) {
	l := &loader{file: name, pos: map[string]*yaml.Node{}, bad: map[string]bool{}}
	root, err := l.document(data)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	l.pos[""] = root
	l.sourceNames = sourceNames(root)
	l.decode(root, reflect.ValueOf(cfg).Elem(), "")
	l.validate(cfg)
	if len(l.errs) > 0 {
		return nil, l.err()
	}
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loader decodes a YAML node tree into a Config, collecting errors.
type loader struct {
	file string
	errs []*Error
	// pos maps a key path ("sources[1].schedule", "" for the root) to the
	// node of its value, so that checks after decoding can point at it.
	pos map[string]*yaml.Node
	// bad holds the paths whose value could not be decoded: checks after
	// decoding say nothing more about them.
	bad map[string]bool
	// sourceNames are the names the sources and copies give themselves
	// (by list, then index), to name them in problems: "sources[2]
	// (db).schedule", "copies[0] (offsite).repository".
	sourceNames map[string]map[int]string
}

// sourceNames reads the name of each source and copy from the document,
// before decoding, so that every problem about one can name it. The
// names are by list ("sources", "copies"), then index.
func sourceNames(root *yaml.Node) map[string]map[int]string {
	names := map[string]map[int]string{}
	if root.Kind != yaml.MappingNode {
		return names
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if (k.Value != "sources" && k.Value != "copies") || v.Kind != yaml.SequenceNode {
			continue
		}
		list := map[int]string{}
		names[k.Value] = list
		for j, s := range v.Content {
			if s.Kind != yaml.MappingNode {
				continue
			}
			for m := 0; m+1 < len(s.Content); m += 2 {
				if k, n := s.Content[m], s.Content[m+1]; k.Value == "name" && n.Kind == yaml.ScalarNode && n.Tag == "!!str" && sourceName.MatchString(n.Value) {
					list[j] = n.Value
				}
			}
		}
	}
	return names
}

// sourceIndex matches the start of a path about a source or a copy.
var sourceIndex = regexp.MustCompile(`^(sources|copies)\[(\d+)\]`)

// display is path as problems show it: with the source's (or copy's)
// name after its index, when it has one.
func (l *loader) display(path string) string {
	m := sourceIndex.FindStringSubmatch(path)
	if m == nil {
		return path
	}
	i, _ := strconv.Atoi(m[2])
	name, ok := l.sourceNames[m[1]][i]
	if !ok {
		return path
	}
	return m[0] + " (" + name + ")" + path[len(m[0]):]
}

// yamlPos finds the position in a YAML syntax error: yaml.v3 names the
// line ("yaml: line 3: ..."); a column, when given ("line 3, column 7"),
// is kept too.
var yamlPos = regexp.MustCompile(`^yaml: line (\d+)(?:, column (\d+))?: (.*)$`)

// syntaxError makes a YAML syntax error an *Error at its position.
func (l *loader) syntaxError(err error) error {
	m := yamlPos.FindStringSubmatch(err.Error())
	if m == nil {
		return l.errAt(0, 0, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2]) // 0 when absent
	return l.errAt(line, col, m[3])
}

// document parses data into the root mapping node. A syntax error is
// returned at once: nothing after it can be trusted.
func (l *loader) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, l.errAt(1, 1, "empty config: want at least a repository")
		}
		return nil, l.syntaxError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, l.errAt(next.Line, next.Column, "a second YAML document: the config is one document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, l.errAt(1, 1, "empty config: want at least a repository")
	}
	return root, nil
}

func (l *loader) errAt(line, col int, msg string) error {
	return &Error{File: l.file, Line: line, Col: col, Msg: msg}
}

// errf records a problem at node n about the key at path.
func (l *loader) errf(n *yaml.Node, path, format string, args ...any) {
	l.bad[path] = true
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = l.display(path) + ": " + msg
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: n.Line, Col: n.Column, Msg: msg})
}

// at returns the node of path's value, or of its nearest enclosing key
// when path itself is absent.
func (l *loader) at(path string) *yaml.Node {
	for {
		if n, ok := l.pos[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return l.pos[""]
		}
		path = path[:i]
	}
}

// has reports whether the config sets path.
func (l *loader) has(path string) bool { _, ok := l.pos[path]; return ok }

// report records a problem about path at its node, unless its value was
// already reported as undecodable.
func (l *loader) report(path, format string, args ...any) {
	if l.bad[path] {
		return
	}
	l.errf(l.at(path), path, format, args...)
}

// err joins the problems in file order.
func (l *loader) err() error {
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	errs := make([]error, len(l.errs))
	for i, e := range l.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode stores n into v, strictly: a key the type does not have, or a
// value of another type, is a problem; the rest of the tree is still read.
func (l *loader) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	l.pos[path] = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // left out, as if absent
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			l.errf(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		l.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		l.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.errf(n, path, "want a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			l.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			l.errf(n, path, "want a string, not %s%s", kindName(n), quoteHint(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			l.errf(n, path, "want true or false, not %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case reflect.Int, reflect.Int64:
		var i int64
		err := errors.New("not an integer")
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			err = n.Decode(&i)
		}
		if err != nil || v.OverflowInt(i) {
			l.errf(n, path, "want an integer, not %s", kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		err := errors.New("not a number")
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			err = n.Decode(&f)
		}
		if err != nil {
			l.errf(n, path, "want a number, not %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		panic("daemon: config field of unsupported kind " + v.Kind().String())
	}
}

// decodeStruct reads a mapping into the struct v by the fields' yaml tags.
// Keys starting with "x-" are ignored, as in Compose files, to hold anchors.
func (l *loader) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		l.errf(n, path, "want a mapping of keys, not %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]*yaml.Node{}
	for _, kv := range l.pairs(n, path) {
		k, val := kv[0], kv[1]
		if k.Kind != yaml.ScalarNode {
			l.errf(k, path, "want a key name, not %s", kindName(k))
			continue
		}
		sub := k.Value
		if path != "" {
			sub = path + "." + k.Value
		}
		idx, ok := fields[k.Value]
		if !ok && strings.HasPrefix(k.Value, "x-") {
			continue // an extension key, for anchors
		}
		if !ok {
			l.errf(k, path, "unknown key %q%s", k.Value, suggest(k.Value, fields))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.errf(k, path, "key %q repeated (first at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		l.decode(val, v.Field(idx), sub)
	}
}

// pairs returns the key/value pairs of mapping n, with YAML merge keys
// ("<<: *base") expanded: explicit keys come first and win over merged
// ones, and an earlier merged mapping wins over a later one.
func (l *loader) pairs(n *yaml.Node, path string) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			own = append(own, [2]*yaml.Node{k, val})
			continue
		}
		for val.Kind == yaml.AliasNode {
			val = val.Alias
		}
		srcs := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			srcs = val.Content
		}
		for _, m := range srcs {
			for m.Kind == yaml.AliasNode {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				l.errf(k, path, "a merge key (<<) wants a mapping, not %s", kindName(m))
				continue
			}
			merged = append(merged, l.pairs(m, path)...)
		}
	}
	if len(merged) == 0 {
		return own
	}
	have := map[string]bool{}
	for _, p := range own {
		have[p[0].Value] = true
	}
	out := own
	for _, p := range merged {
		if !have[p[0].Value] {
			have[p[0].Value] = true
			out = append(out, p)
		}
	}
	return out
}

// yamlFields maps the yaml key of each field of struct type t to its index.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// suggest returns `; did you mean "x"?` for the known key closest to k,
// when one is close enough to be a likely typo.
func suggest(k string, fields map[string]int) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(k, f); d < bestD || d == bestD && f < best {
			best, bestD = f, d
		}
	}
	if best == "" || bestD > len(k)/3+1 {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
