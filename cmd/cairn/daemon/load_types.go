package daemon

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// durationUnits are Go's units plus days and weeks.
var durationUnits = map[string]float64{
	"ns": float64(time.Nanosecond),
	"us": float64(time.Microsecond),
	"µs": float64(time.Microsecond),
	"μs": float64(time.Microsecond),
	"ms": float64(time.Millisecond),
	"s":  float64(time.Second),
	"m":  float64(time.Minute),
	"h":  float64(time.Hour),
	"d":  float64(24 * time.Hour),
	"w":  float64(7 * 24 * time.Hour),
}

// ParseDuration reads a non-negative span such as "90s", "1h30m", "1d" or
// "2w": Go's time.ParseDuration syntax without a sign, plus "d" (24h) and
// "w" (7d). "0" is the zero span.
func ParseDuration(s string) (Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("duration %q: must not have a sign", s)
	}
	var total float64
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: want a number before each unit, like 90s, 6h or 1d", s)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: bad number %q", s, rest[:i])
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		if j == 0 {
			return 0, fmt.Errorf("duration %q: missing unit (ns, us, ms, s, m, h, d or w)", s)
		}
		unit, ok := durationUnits[rest[:j]]
		if !ok {
			return 0, fmt.Errorf("duration %q: unknown unit %q (want ns, us, ms, s, m, h, d or w)", s, rest[:j])
		}
		rest = rest[j:]
		total += num * unit
	}
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q: too long", s)
	}
	return Duration(total), nil
}

// UnmarshalYAML reads a Duration from a scalar such as "90s" or "1d".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration like 90s, 6h or 1d, not %s", kindName(n))
	}
	if n.Tag == "!!int" && n.Value != "0" {
		return fmt.Errorf("duration %s: missing unit (ns, us, ms, s, m, h, d or w)", n.Value)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the Duration as Go's time.Duration does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats the span like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a Command: a string is one shell line, run as
// /bin/sh -c LINE; a list of strings is argv, run without a shell.
func (c *Command) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!str" {
			return fmt.Errorf("want a command (a string or a list of strings), not %s%s", kindName(n), quoteHint(n))
		}
		if strings.TrimSpace(n.Value) == "" {
			return errors.New("empty command")
		}
		*c = Command{"/bin/sh", "-c", n.Value}
		return nil
	case yaml.SequenceNode:
		argv := make(Command, 0, len(n.Content))
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode || e.Tag != "!!str" {
				return fmt.Errorf("command arguments must be strings, not %s%s", kindName(e), quoteHint(e))
			}
			argv = append(argv, e.Value)
		}
		if len(argv) == 0 || argv[0] == "" {
			return errors.New("empty command")
		}
		*c = argv
		return nil
	}
	return fmt.Errorf("want a command (a string or a list of strings), not %s", kindName(n))
}

// kindName describes a node for error messages: "a list", "a mapping",
// "an integer"...
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return kindName(n.Alias)
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean (" + n.Value + ")"
	case "!!int":
		return "an integer (" + n.Value + ")"
	case "!!float":
		return "a number (" + n.Value + ")"
	case "!!str":
		return fmt.Sprintf("a string (%q)", n.Value)
	}
	return fmt.Sprintf("%s %q", n.Tag, n.Value)
}

// quoteHint suggests quoting a scalar that YAML read as something other
// than a string.
func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!str" && n.Tag != "!!null" {
		return ": quote it to make it a string"
	}
	return ""
}

// ParseBytes reads a size as the CLI and the config take it: "20MiB",
// "512KiB", "1G", "1.5 GB" or plain bytes (units of 1024, or of 1000 with
// KB, MB, GB, TB; any case). "" is 0.
func ParseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num := strings.TrimRight(s, "KMGTiBkmgtb")
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1e3, "m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9, "t": 1 << 40, "tib": 1 << 40, "tb": 1e12}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q", s, unit)
	}
	return int64(v * mult), nil
}
