package daemon

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when a job runs next.
//
// A cron schedule fires at the wall-clock times its expression names, in
// the time zone of the time passed to Next (or the zone named by a
// "CRON_TZ=Zone" prefix). An interval schedule fires every Interval after
// the start of the previous run: Next(lastStart) = lastStart + interval.
// Before the first run the daemon has no previous start of its own; it
// passes the time it started, so the first run comes one interval after
// start, unless it looks at the source's newest snapshot (Interval tells
// it the span) and runs an overdue source sooner.
type Schedule interface {
	// Next returns the first time strictly after after at which the job
	// runs. It never returns the zero time for a schedule ParseSchedule
	// accepted.
	Next(after time.Time) time.Time
	// Interval returns the span of an interval schedule, and false for a
	// cron schedule.
	Interval() (time.Duration, bool)
	// String returns the schedule as written.
	String() string
}

// cronParser reads 5-field expressions and the descriptors (@daily...).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule reads a cron expression with 5 fields ("0 3 * * *",
// optionally prefixed by "CRON_TZ=Europe/Paris "), a descriptor (@hourly,
// @daily or @midnight, @weekly, @monthly, @yearly or @annually) or an
// interval ("30m", "6h", "1d", "2w", "1h30m").
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty schedule")
	}
	if strings.HasPrefix(s, "@every") {
		return nil, fmt.Errorf("schedule %q: write the interval alone, like \"6h\"", s)
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, " \t*") {
		d, err := ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: not a cron expression, and %w", s, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("schedule %q: an interval must be positive", s)
		}
		return interval{d: time.Duration(d), s: s}, nil
	}
	cs, err := cronParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v", s, err)
	}
	// robfig's Next gives up after five years and returns the zero time
	// ("0 0 31 2 *" never fires); refuse those at load time.
	if cs.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires", s)
	}
	sched := cronSchedule{c: cs, s: s}
	if spec, ok := cs.(*cron.SpecSchedule); ok {
		wall := *spec
		wall.Location = time.UTC
		sched.spec, sched.wall = spec, &wall
	}
	return sched, nil
}

type cronSchedule struct {
	c cron.Schedule
	s string
	// spec is c; wall is the same fields read in UTC, where the wall
	// clock has no gaps or repeats (nil if c is not a SpecSchedule).
	spec, wall *cron.SpecSchedule
}

// allHours is the Hour field of a schedule that fires in every hour.
const allHours = 1<<24 - 1

// Next is robfig's next time, but across daylight saving changes a
// schedule at fixed hours fires as cron does: once at a wall time that
// the clocks repeat (not once in each pass), and at the change for a
// wall time that the clocks skip (not a day later). A schedule firing
// every hour keeps firing every real hour.
func (c cronSchedule) Next(after time.Time) time.Time {
	n := c.c.Next(after)
	if c.spec == nil || n.IsZero() || c.spec.Hour&allHours == allHours {
		return n
	}
	loc := c.spec.Location
	if loc == time.Local {
		loc = after.Location()
	}
	// Clocks set back: n's wall time came once before, an hour or so
	// earlier, and that earlier time matched too; it is not after
	// after (robfig would have returned it), so it ran, or was due.
	// Every wall time up to the end of the repeat came in the first pass:
	// go past it at once, however many times the schedule has in it.
	for i := 0; i < 4 && !n.IsZero(); i++ {
		end, ok := secondPass(n.In(loc))
		if !ok {
			break
		}
		n = c.c.Next(end.Add(-time.Second))
	}
	// Clocks set forward: a wall time in the gap never comes; fire at
	// the change instead when that is before n.
	a := after.In(loc)
	w := c.wall.Next(time.Date(a.Year(), a.Month(), a.Day(), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC))
	if w.IsZero() {
		return n
	}
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	if wallUTC(t).Equal(w) {
		return n // w exists: robfig found it
	}
	start, end := t.ZoneBounds()
	change := start
	if wallUTC(t).Before(w) {
		change = end
	}
	if !change.IsZero() && change.After(after) && (n.IsZero() || change.Before(n)) {
		return change.In(after.Location())
	}
	return n
}

// wallUTC is t's wall clock read as UTC.
func wallUTC(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// secondPass reports whether t's wall time is the second of two instants
// with that wall time, the clocks having been set back before it, and
// when the repeated wall times end (the first instant after them).
func secondPass(t time.Time) (end time.Time, ok bool) {
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return time.Time{}, false
	}
	_, before := start.Add(-time.Nanosecond).Zone()
	_, now := t.Zone()
	back := time.Duration(before-now) * time.Second
	if before <= now || t.Sub(start) >= back {
		return time.Time{}, false
	}
	return start.Add(back), true
}

func (c cronSchedule) Interval() (time.Duration, bool) { return 0, false }
func (c cronSchedule) String() string                  { return c.s }

type interval struct {
	d time.Duration
	s string
}

func (i interval) Next(after time.Time) time.Time  { return after.Add(i.d) }
func (i interval) Interval() (time.Duration, bool) { return i.d, true }
func (i interval) String() string                  { return i.s }

// Jitter returns a random delay in [0, max) to add to a scheduled time, so
// that many hosts on one schedule do not all start at once. rnd may be nil
// for the shared source.
func Jitter(max Duration, rnd *rand.Rand) time.Duration {
	if max <= 0 {
		return 0
	}
	if rnd == nil {
		return time.Duration(rand.Int64N(int64(max)))
	}
	return time.Duration(rnd.Int64N(int64(max)))
}
