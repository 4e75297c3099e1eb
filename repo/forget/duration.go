package forget

import (
	"fmt"
	"strconv"
	"time"
)

// Duration is a calendar span in restic's syntax: years, months, days and
// hours, written like 1y5m7d2h. Units come in any order, each a
// non-negative integer; a unit given twice keeps its last value. There is
// no week unit: write 7d.
type Duration struct {
	Years, Months, Days, Hours int
}

// ParseDuration reads a Duration. The empty string is the zero Duration.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			if rest[0] == '-' {
				return Duration{}, fmt.Errorf("duration %q: negative values are not allowed", s)
			}
			return Duration{}, fmt.Errorf("duration %q: no number before %q", s, rest)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return Duration{}, fmt.Errorf("duration %q: %w", s, err)
		}
		if i == len(rest) {
			return Duration{}, fmt.Errorf("duration %q: no unit after %d (use y, m, d or h)", s, n)
		}
		switch rest[i] {
		case 'y':
			d.Years = n
		case 'm':
			d.Months = n
		case 'd':
			d.Days = n
		case 'h':
			d.Hours = n
		default:
			return Duration{}, fmt.Errorf("duration %q: unknown unit %q after %d (use y, m, d or h)", s, rest[i], n)
		}
		rest = rest[i+1:]
	}
	return d, nil
}

// String writes d back in the same syntax, leaving out zero units; the zero
// Duration is "".
func (d Duration) String() string {
	s := ""
	for _, u := range []struct {
		n    int
		unit string
	}{{d.Years, "y"}, {d.Months, "m"}, {d.Days, "d"}, {d.Hours, "h"}} {
		if u.n != 0 {
			s += strconv.Itoa(u.n) + u.unit
		}
	}
	return s
}

// Zero reports whether d spans nothing (the option is off).
func (d Duration) Zero() bool { return d == Duration{} }

// Before returns the instant d before t, counting years, months and days
// on the calendar of t's location, then hours.
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}

// Set parses s into d, for command-line flags.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Type names the flag's value in help texts.
func (d *Duration) Type() string { return "duration" }
