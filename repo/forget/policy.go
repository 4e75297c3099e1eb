// Package forget decides which snapshots a retention policy keeps. It does
// no I/O: the caller lists the snapshots, groups them (GroupSnapshots),
// applies a Policy to each group (Apply) and removes what it is told.
//
// # Rules
//
// The rules are restic's, so that a policy written for restic keeps the
// same snapshots here:
//
//   - Snapshots are considered newest first. Every rule sees every
//     snapshot, and a snapshot is kept when any rule keeps it; one snapshot
//     may count for several rules at once (the newest is usually the last,
//     hourly, daily, weekly, monthly and yearly snapshot all together).
//   - Last N keeps the N newest snapshots.
//   - Hourly, Daily, Weekly, Monthly and Yearly N keep the newest snapshot
//     of each of the N newest calendar buckets that have a snapshot at all.
//     Buckets are taken in each snapshot's own recorded time zone (as
//     restic takes them) or in a given one, on natural boundaries (an
//     hour is :00 to :59, a week is an ISO week, Monday to Sunday), not
//     relative to now. Unlimited (-1) keeps one snapshot in every bucket.
//   - When a counted rule still has buckets left once it reaches the oldest
//     snapshot, the oldest snapshot is kept too, so that a young series is
//     not cut short: its reason then starts with "oldest".
//   - Within D keeps every snapshot taken less than D before the newest
//     snapshot of the group (snapshots dated in the future do not count as
//     the newest). WithinHourly..WithinYearly D keep the newest snapshot of
//     every bucket inside that span, and the oldest snapshot too when it is
//     inside it.
//   - Tags keep every snapshot that carries all the tags of any one list;
//     an empty list keeps untagged snapshots.
//
// An empty policy keeps everything: callers should refuse to act on one.
package forget

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

// Unlimited, as a count, keeps one snapshot in every bucket.
const Unlimited = -1

// Policy says which snapshots to keep. Counts are 0 (rule off), a positive
// number of buckets, or Unlimited.
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int

	// Within keeps every snapshot within the span; the others keep the
	// newest snapshot of each bucket within it.
	Within, WithinHourly, WithinDaily, WithinWeekly, WithinMonthly, WithinYearly Duration

	Tags []repo.TagList
}

// Empty reports whether no rule is set.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 &&
		p.Within.Zero() && p.WithinHourly.Zero() && p.WithinDaily.Zero() && p.WithinWeekly.Zero() &&
		p.WithinMonthly.Zero() && p.WithinYearly.Zero() && len(p.Tags) == 0
}

// Validate rejects counts below Unlimited and negative durations.
func (p Policy) Validate() error {
	for _, c := range p.counts() {
		if c.n < Unlimited {
			return fmt.Errorf("keep %s: %d is not a count (use -1 or unlimited to keep every bucket)", c.name, c.n)
		}
	}
	for _, w := range p.withins() {
		d := w.d
		if d.Years < 0 || d.Months < 0 || d.Days < 0 || d.Hours < 0 {
			return errors.New("keep within: negative durations are not allowed")
		}
	}
	return nil
}

type count struct {
	name   string
	n      int
	bucket func(t time.Time, nr int) int
}

func (p Policy) counts() []count {
	return []count{
		{"last", p.Last, func(_ time.Time, nr int) int { return nr }},
		{"hourly", p.Hourly, hourOf},
		{"daily", p.Daily, dayOf},
		{"weekly", p.Weekly, weekOf},
		{"monthly", p.Monthly, monthOf},
		{"yearly", p.Yearly, yearOf},
	}
}

type within struct {
	name   string
	d      Duration
	bucket func(t time.Time, nr int) int
}

func (p Policy) withins() []within {
	return []within{
		{"", p.Within, nil},
		{"hourly", p.WithinHourly, hourOf},
		{"daily", p.WithinDaily, dayOf},
		{"weekly", p.WithinWeekly, weekOf},
		{"monthly", p.WithinMonthly, monthOf},
		{"yearly", p.WithinYearly, yearOf},
	}
}

// Bucket numbers: equal for two times in the same calendar hour, day, ISO
// week, month or year of the times' location.
func hourOf(t time.Time, _ int) int {
	return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour()
}
func dayOf(t time.Time, _ int) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }
func weekOf(t time.Time, _ int) int {
	y, w := t.ISOWeek()
	return y*100 + w
}
func monthOf(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }
func yearOf(t time.Time, _ int) int  { return t.Year() }

// String describes the policy in a line, e.g. "keep 7 daily, 4 weekly
// snapshots, all snapshots within 2d of the newest".
func (p Policy) String() string {
	var parts []string
	var counted []string
	for _, c := range p.counts() {
		name := c.name
		if name == "last" {
			name = "latest"
		}
		switch {
		case c.n > 0:
			counted = append(counted, fmt.Sprintf("%d %s", c.n, name))
		case c.n == Unlimited:
			counted = append(counted, "all "+name)
		}
	}
	if len(counted) > 0 {
		parts = append(parts, strings.Join(counted, ", ")+" snapshots")
	}
	for _, w := range p.withins() {
		if w.d.Zero() {
			continue
		}
		if w.name == "" {
			parts = append(parts, fmt.Sprintf("all snapshots within %s of the newest", w.d))
		} else {
			parts = append(parts, fmt.Sprintf("%s snapshots within %s", w.name, w.d))
		}
	}
	for _, l := range p.Tags {
		if len(l) == 0 {
			parts = append(parts, "all untagged snapshots")
		} else {
			parts = append(parts, "all snapshots with tags "+strings.Join(l, ","))
		}
	}
	if len(parts) == 0 {
		return "keep everything (empty policy)"
	}
	return "keep " + strings.Join(parts, ", ")
}

// Counters are how many buckets each counted rule has left after a
// snapshot was considered (Unlimited stays Unlimited).
type Counters struct {
	Last    int `json:"last,omitempty"`
	Hourly  int `json:"hourly,omitempty"`
	Daily   int `json:"daily,omitempty"`
	Weekly  int `json:"weekly,omitempty"`
	Monthly int `json:"monthly,omitempty"`
	Yearly  int `json:"yearly,omitempty"`
}

// Kept is a snapshot the policy keeps, with every rule that keeps it.
type Kept struct {
	Snapshot *repo.Snapshot
	// Reasons, in rule order: "tag nightly", "within 2d", "last snapshot",
	// "daily snapshot" (and so on), "oldest daily snapshot", "daily within
	// 7d", "oldest daily within 7d".
	Reasons  []string
	Counters Counters
}

// Result splits a group; both lists are newest first.
type Result struct {
	Keep   []Kept
	Remove []*repo.Snapshot
}

// Apply decides which of list to keep under p, with calendar buckets in loc
// (nil: each snapshot's own recorded UTC offset, as restic) and now
// telling snapshots dated in the future. The order of list does
// not matter, except among snapshots with the same time: the later in list
// counts as the newer (as the last of repo.Snapshots is the latest). An
// empty policy keeps everything.
func Apply(list []*repo.Snapshot, p Policy, loc *time.Location, now time.Time) Result {
	sorted := make([]*repo.Snapshot, len(list))
	for i, sn := range list {
		sorted[len(list)-1-i] = sn
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })

	var res Result
	if p.Empty() {
		for _, sn := range sorted {
			res.Keep = append(res.Keep, Kept{Snapshot: sn, Reasons: []string{"empty policy"}})
		}
		return res
	}
	if len(sorted) == 0 {
		return res
	}

	// The reference for durations: the newest snapshot not in the future.
	var latest time.Time
	for _, sn := range sorted {
		if sn.Time.After(latest) && sn.Time.Before(now) {
			latest = sn.Time
		}
	}
	if loc != nil {
		latest = latest.In(loc)
	}

	type countState struct {
		count
		last int
	}
	var counts []*countState
	for _, c := range p.counts() {
		counts = append(counts, &countState{count: c, last: -1})
	}
	type withinState struct {
		within
		since time.Time
		last  int
	}
	var withins []*withinState
	for _, w := range p.withins() {
		if !w.d.Zero() {
			withins = append(withins, &withinState{within: w, since: w.d.Before(latest), last: -1})
		}
	}

	oldest := len(sorted) - 1
	for nr, sn := range sorted {
		t := sn.Time
		if loc != nil {
			t = t.In(loc)
		}
		var reasons []string

		for _, l := range p.Tags {
			if l.Match(sn) {
				reasons = append(reasons, l.String())
			}
		}
		for _, w := range withins {
			if w.bucket == nil && sn.Time.After(w.since) {
				reasons = append(reasons, "within "+w.d.String())
			}
		}
		for _, c := range counts {
			if c.n == 0 {
				continue
			}
			b := c.bucket(t, nr)
			if b == c.last && nr != oldest {
				continue
			}
			reason := c.name + " snapshot"
			if b == c.last {
				reason = "oldest " + reason
			}
			reasons = append(reasons, reason)
			c.last = b
			if c.n > 0 {
				c.n--
			}
		}
		for _, w := range withins {
			if w.bucket == nil || !sn.Time.After(w.since) {
				continue
			}
			b := w.bucket(t, nr)
			if b == w.last && nr != oldest {
				continue
			}
			reason := w.name + " within " + w.d.String()
			if b == w.last {
				reason = "oldest " + reason
			}
			reasons = append(reasons, reason)
			w.last = b
		}

		if len(reasons) == 0 {
			res.Remove = append(res.Remove, sn)
			continue
		}
		res.Keep = append(res.Keep, Kept{Snapshot: sn, Reasons: reasons, Counters: Counters{
			Last: counts[0].n, Hourly: counts[1].n, Daily: counts[2].n,
			Weekly: counts[3].n, Monthly: counts[4].n, Yearly: counts[5].n,
		}})
	}
	return res
}
