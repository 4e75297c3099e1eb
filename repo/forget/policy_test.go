package forget

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

const layout = "2006-01-02 15:04:05"

// snaps builds snapshots from "TIME [tag,tag]" lines, in UTC, each with an
// ID of its own.
func snaps(t testing.TB, lines ...string) []*repo.Snapshot {
	t.Helper()
	var out []*repo.Snapshot
	for i, l := range lines {
		ts, tags, _ := strings.Cut(l, " [")
		tm, err := time.ParseInLocation(layout, ts, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		sn := &repo.Snapshot{Time: tm, Tags: []string{}, Host: "h", Source: "s"}
		if tags != "" {
			sn.Tags = strings.Split(strings.TrimSuffix(tags, "]"), ",")
		}
		sn.ID[0], sn.ID[1] = byte(i>>8), byte(i)
		out = append(out, sn)
	}
	return out
}

// describe renders a result as "TIME: reason, reason" lines for the kept
// snapshots and "TIME" lines for the removed ones, newest first.
func describe(res Result) (keep, remove []string) {
	for _, k := range res.Keep {
		keep = append(keep, k.Snapshot.Time.UTC().Format(layout)+": "+strings.Join(k.Reasons, ", "))
	}
	for _, sn := range res.Remove {
		remove = append(remove, sn.Time.UTC().Format(layout))
	}
	return keep, remove
}

func dur(t testing.TB, s string) Duration {
	t.Helper()
	d, err := ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sundays are restic's documentation example: one backup every Sunday for
// 12 weeks.
var sundays = []string{
	"2019-09-01 11:00:00", "2019-09-08 11:00:00", "2019-09-15 11:00:00", "2019-09-22 11:00:00",
	"2019-09-29 11:00:00", "2019-10-06 11:00:00", "2019-10-13 11:00:00", "2019-10-20 11:00:00",
	"2019-10-27 11:00:00", "2019-11-03 11:00:00", "2019-11-10 11:00:00", "2019-11-17 11:00:00",
}

func TestForgetApply(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	plus2 := time.FixedZone("UTC+2", 2*3600)
	for _, tc := range []struct {
		name   string
		snaps  []string
		policy func(t testing.TB) Policy
		loc    *time.Location
		keep   []string
		remove []string
	}{
		{
			// restic's docs: --keep-daily 4 on twelve Sundays keeps the
			// last four Sundays; the count is spent, so the oldest goes.
			name:   "docs keep-daily 4 on weekly backups",
			snaps:  sundays,
			policy: func(testing.TB) Policy { return Policy{Daily: 4} },
			keep: []string{
				"2019-11-17 11:00:00: daily snapshot",
				"2019-11-10 11:00:00: daily snapshot",
				"2019-11-03 11:00:00: daily snapshot",
				"2019-10-27 11:00:00: daily snapshot",
			},
			remove: []string{
				"2019-10-20 11:00:00", "2019-10-13 11:00:00", "2019-10-06 11:00:00", "2019-09-29 11:00:00",
				"2019-09-22 11:00:00", "2019-09-15 11:00:00", "2019-09-08 11:00:00", "2019-09-01 11:00:00",
			},
		},
		{
			// Rules overlap: every Sunday is its own day and week, so each
			// kept one counts for both rules, and weekly reaches further.
			name:   "daily and weekly overlap",
			snaps:  sundays,
			policy: func(testing.TB) Policy { return Policy{Daily: 2, Weekly: 3} },
			keep: []string{
				"2019-11-17 11:00:00: daily snapshot, weekly snapshot",
				"2019-11-10 11:00:00: daily snapshot, weekly snapshot",
				"2019-11-03 11:00:00: weekly snapshot",
			},
			remove: []string{
				"2019-10-27 11:00:00", "2019-10-20 11:00:00", "2019-10-13 11:00:00", "2019-10-06 11:00:00",
				"2019-09-29 11:00:00", "2019-09-22 11:00:00", "2019-09-15 11:00:00", "2019-09-08 11:00:00",
				"2019-09-01 11:00:00",
			},
		},
		{
			// Monthly keeps the newest of each month; with buckets to spare
			// when it reaches the oldest snapshot, that one stays too.
			name:   "monthly with buckets left keeps the oldest",
			snaps:  sundays,
			policy: func(testing.TB) Policy { return Policy{Monthly: 6} },
			keep: []string{
				"2019-11-17 11:00:00: monthly snapshot",
				"2019-10-27 11:00:00: monthly snapshot",
				"2019-09-29 11:00:00: monthly snapshot",
				"2019-09-01 11:00:00: oldest monthly snapshot",
			},
			remove: []string{
				"2019-11-10 11:00:00", "2019-11-03 11:00:00", "2019-10-20 11:00:00", "2019-10-13 11:00:00",
				"2019-10-06 11:00:00", "2019-09-22 11:00:00", "2019-09-15 11:00:00", "2019-09-08 11:00:00",
			},
		},
		{
			// restic issue 3624: two yearly snapshots wanted, but all
			// backups are from one year; the oldest is kept as well.
			name:   "yearly in a young repository keeps the oldest",
			snaps:  []string{"2022-01-09 10:00:00", "2022-03-01 10:00:00", "2022-06-01 10:00:00"},
			policy: func(testing.TB) Policy { return Policy{Yearly: 2} },
			keep: []string{
				"2022-06-01 10:00:00: yearly snapshot",
				"2022-01-09 10:00:00: oldest yearly snapshot",
			},
			remove: []string{"2022-03-01 10:00:00"},
		},
		{
			// restic issue 4806: two snapshots in one hour are both kept,
			// the older as the oldest, with hourly buckets left over.
			name:   "hourly keeps the oldest in a shared hour",
			snaps:  []string{"2024-05-17 09:36:51", "2024-05-17 09:41:06", "2024-05-17 10:05:00"},
			policy: func(testing.TB) Policy { return Policy{Hourly: 24} },
			keep: []string{
				"2024-05-17 10:05:00: hourly snapshot",
				"2024-05-17 09:41:06: hourly snapshot",
				"2024-05-17 09:36:51: oldest hourly snapshot",
			},
		},
		{
			name:   "unlimited daily keeps one a day and the oldest",
			snaps:  []string{"2024-01-01 08:00:00", "2024-01-01 20:00:00", "2024-01-02 08:00:00", "2024-01-02 20:00:00", "2024-01-03 08:00:00"},
			policy: func(testing.TB) Policy { return Policy{Daily: Unlimited} },
			keep: []string{
				"2024-01-03 08:00:00: daily snapshot",
				"2024-01-02 20:00:00: daily snapshot",
				"2024-01-01 20:00:00: daily snapshot",
				"2024-01-01 08:00:00: oldest daily snapshot",
			},
			remove: []string{"2024-01-02 08:00:00"},
		},
		{
			name:   "keep-last",
			snaps:  sundays[8:],
			policy: func(testing.TB) Policy { return Policy{Last: 2} },
			keep: []string{
				"2019-11-17 11:00:00: last snapshot",
				"2019-11-10 11:00:00: last snapshot",
			},
			remove: []string{"2019-11-03 11:00:00", "2019-10-27 11:00:00"},
		},
		{
			name:   "keep-last with more than there are keeps all, none oldest",
			snaps:  sundays[10:],
			policy: func(testing.TB) Policy { return Policy{Last: 5} },
			keep: []string{
				"2019-11-17 11:00:00: last snapshot",
				"2019-11-10 11:00:00: last snapshot",
			},
		},
		{
			// Equal times: each is its own "last" snapshot, and the later
			// in the list counts as the newer; a daily bucket takes only
			// one of them.
			name: "keep-last and daily with ties",
			snaps: []string{
				"2024-03-01 12:00:00 [a]", "2024-03-02 12:00:00 [b]", "2024-03-02 12:00:00 [c]", "2024-03-02 12:00:00 [d]",
			},
			policy: func(testing.TB) Policy { return Policy{Last: 2, Daily: 1} },
			keep: []string{
				"2024-03-02 12:00:00: last snapshot, daily snapshot",
				"2024-03-02 12:00:00: last snapshot",
			},
			remove: []string{"2024-03-02 12:00:00", "2024-03-01 12:00:00"},
		},
		{
			// restic's docs: keep-within keeps everything less than the
			// span before the newest snapshot, not before now; exactly the
			// span before is outside.
			name: "keep-within",
			snaps: []string{
				"2024-01-01 00:00:00", "2024-01-08 12:00:00", "2024-01-08 12:00:01", "2024-01-09 09:00:00", "2024-01-10 12:00:00",
			},
			policy: func(t testing.TB) Policy { return Policy{Within: dur(t, "2d")} },
			keep: []string{
				"2024-01-10 12:00:00: within 2d",
				"2024-01-09 09:00:00: within 2d",
				"2024-01-08 12:00:01: within 2d",
			},
			remove: []string{"2024-01-08 12:00:00", "2024-01-01 00:00:00"},
		},
		{
			name: "keep-within counts months and hours on the calendar",
			snaps: []string{
				"2023-11-30 09:00:00", "2023-11-30 11:00:00", "2024-03-31 12:00:00",
			},
			policy: func(t testing.TB) Policy { return Policy{Within: dur(t, "4m1h")} },
			// 2024-03-31 minus 4 months is 2023-11-31, that is 2023-12-01;
			// minus an hour, 2023-11-30 23:00.
			keep:   []string{"2024-03-31 12:00:00: within 4m1h"},
			remove: []string{"2023-11-30 11:00:00", "2023-11-30 09:00:00"},
		},
		{
			// A snapshot dated in the future is kept, but the span is
			// measured from the newest one that is not.
			name:   "keep-within ignores future snapshots as the reference",
			snaps:  []string{"2029-12-25 00:00:00", "2029-12-30 00:00:00", "2031-06-01 00:00:00"},
			policy: func(t testing.TB) Policy { return Policy{Within: dur(t, "2d")} },
			keep: []string{
				"2031-06-01 00:00:00: within 2d",
				"2029-12-30 00:00:00: within 2d",
			},
			remove: []string{"2029-12-25 00:00:00"},
		},
		{
			// restic's docs: daily for the last week, weekly for the last
			// month, monthly for the last year, with irregular backups.
			name: "keep-within-daily, weekly, monthly",
			snaps: []string{
				"2022-11-10 10:00:00", // outside every span
				"2023-06-03 10:00:00",
				"2023-06-20 10:00:00",
				"2023-06-28 10:00:00", // June's newest
				"2023-12-06 10:00:00", // Wednesday
				"2023-12-10 10:00:00", // Sunday: week 49's newest
				"2023-12-12 10:00:00",
				"2023-12-16 10:00:00", // outside 7d
				"2023-12-17 09:00:00", // same day as the next
				"2023-12-17 18:00:00",
				"2023-12-20 08:00:00",
			},
			policy: func(t testing.TB) Policy {
				return Policy{WithinDaily: dur(t, "3d"), WithinWeekly: dur(t, "1m"), WithinMonthly: dur(t, "1y")}
			},
			keep: []string{
				"2023-12-20 08:00:00: daily within 3d, weekly within 1m, monthly within 1y",
				"2023-12-17 18:00:00: daily within 3d, weekly within 1m",
				"2023-12-10 10:00:00: weekly within 1m",
				"2023-06-28 10:00:00: monthly within 1y",
			},
			remove: []string{
				"2023-12-17 09:00:00", "2023-12-16 10:00:00", "2023-12-12 10:00:00", "2023-12-06 10:00:00",
				"2023-06-20 10:00:00", "2023-06-03 10:00:00", "2022-11-10 10:00:00",
			},
		},
		{
			// The oldest snapshot, inside the span and sharing a bucket
			// with a kept one, is kept as the oldest.
			name:   "keep-within-daily keeps the oldest inside the span",
			snaps:  []string{"2024-01-01 08:00:00", "2024-01-01 09:00:00", "2024-01-02 09:00:00"},
			policy: func(t testing.TB) Policy { return Policy{WithinDaily: dur(t, "7d")} },
			keep: []string{
				"2024-01-02 09:00:00: daily within 7d",
				"2024-01-01 09:00:00: daily within 7d",
				"2024-01-01 08:00:00: oldest daily within 7d",
			},
		},
		{
			// restic's docs: --keep-tag keeps every snapshot with the tag
			// list; several lists are OR-ed, a list's tags AND-ed, and ''
			// keeps untagged snapshots.
			name: "keep-tag",
			snaps: []string{
				"2024-01-01 00:00:00 [nightly]",
				"2024-01-02 00:00:00 [manual]",
				"2024-01-03 00:00:00 [foo,bar]",
				"2024-01-04 00:00:00 [foo]",
				"2024-01-05 00:00:00",
				"2024-01-06 00:00:00 [other]",
			},
			policy: func(testing.TB) Policy {
				return Policy{Tags: []repo.TagList{repo.ParseTagList("nightly"), repo.ParseTagList("foo, bar"), repo.ParseTagList("")}}
			},
			keep: []string{
				"2024-01-05 00:00:00: untagged",
				"2024-01-03 00:00:00: tag foo,bar",
				"2024-01-01 00:00:00: tag nightly",
			},
			remove: []string{"2024-01-06 00:00:00", "2024-01-04 00:00:00", "2024-01-02 00:00:00"},
		},
		{
			name:  "every rule at once, reasons in rule order",
			snaps: []string{"2024-01-01 00:00:00 [nightly]", "2024-01-02 00:00:00 [nightly]"},
			policy: func(t testing.TB) Policy {
				return Policy{Tags: []repo.TagList{{"nightly"}}, Within: dur(t, "1h"), Last: 1, WithinHourly: dur(t, "1d")}
			},
			keep: []string{
				"2024-01-02 00:00:00: tag nightly, within 1h, last snapshot, hourly within 1d",
				"2024-01-01 00:00:00: tag nightly",
			},
		},
		{
			// Buckets are calendar days of the given zone: in UTC+2 the
			// three newest fall on one day.
			name: "daily in UTC",
			snaps: []string{
				"2024-01-01 10:00:00", "2024-01-01 23:30:00", "2024-01-02 00:30:00", "2024-01-02 12:00:00",
			},
			policy: func(testing.TB) Policy { return Policy{Daily: 2} },
			keep:   []string{"2024-01-02 12:00:00: daily snapshot", "2024-01-01 23:30:00: daily snapshot"},
			remove: []string{"2024-01-02 00:30:00", "2024-01-01 10:00:00"},
		},
		{
			name: "daily in UTC+2",
			snaps: []string{
				"2024-01-01 10:00:00", "2024-01-01 23:30:00", "2024-01-02 00:30:00", "2024-01-02 12:00:00",
			},
			policy: func(testing.TB) Policy { return Policy{Daily: 2} },
			loc:    plus2,
			keep:   []string{"2024-01-02 12:00:00: daily snapshot", "2024-01-01 10:00:00: daily snapshot"},
			remove: []string{"2024-01-02 00:30:00", "2024-01-01 23:30:00"},
		},
		{
			// ISO weeks run Monday to Sunday, across the new year too
			// (2020-12-31 and 2021-01-03 are both in week 53 of 2020).
			name: "weekly on ISO weeks",
			snaps: []string{
				"2020-12-27 12:00:00", // Sunday, week 52
				"2020-12-31 12:00:00", // Thursday, week 53
				"2021-01-03 23:00:00", // Sunday, week 53
				"2021-01-04 01:00:00", // Monday, week 1
				"2021-01-05 12:00:00", // Tuesday, week 1
			},
			policy: func(testing.TB) Policy { return Policy{Weekly: 2} },
			keep:   []string{"2021-01-05 12:00:00: weekly snapshot", "2021-01-03 23:00:00: weekly snapshot"},
			remove: []string{"2021-01-04 01:00:00", "2020-12-31 12:00:00", "2020-12-27 12:00:00"},
		},
		{
			name:   "empty policy keeps everything",
			snaps:  sundays[:2],
			policy: func(testing.TB) Policy { return Policy{} },
			keep:   []string{"2019-09-08 11:00:00: empty policy", "2019-09-01 11:00:00: empty policy"},
		},
		{
			name:   "tag policy that matches nothing removes all",
			snaps:  sundays[:2],
			policy: func(testing.TB) Policy { return Policy{Tags: []repo.TagList{{"nightly"}}} },
			remove: []string{"2019-09-08 11:00:00", "2019-09-01 11:00:00"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			res := Apply(snaps(t, tc.snaps...), tc.policy(t), loc, now)
			keep, remove := describe(res)
			if !slices.Equal(keep, tc.keep) {
				t.Errorf("keep:\n  %s\nwant:\n  %s", strings.Join(keep, "\n  "), strings.Join(tc.keep, "\n  "))
			}
			if !slices.Equal(remove, tc.remove) {
				t.Errorf("remove:\n  %s\nwant:\n  %s", strings.Join(remove, "\n  "), strings.Join(tc.remove, "\n  "))
			}
		})
	}
}

// TestForgetApplyTieOrder checks which of two snapshots with the same time is the
// newer: the later in the list, as repo.Snapshots orders them.
func TestForgetApplyTieOrder(t *testing.T) {
	list := snaps(t, "2024-03-02 12:00:00 [first]", "2024-03-02 12:00:00 [second]")
	res := Apply(list, Policy{Last: 1}, time.UTC, time.Now())
	if len(res.Keep) != 1 || res.Keep[0].Snapshot != list[1] {
		t.Fatalf("kept %v, want the second", res.Keep)
	}
	if len(res.Remove) != 1 || res.Remove[0] != list[0] {
		t.Fatalf("removed %v, want the first", res.Remove)
	}
}

// TestForgetApplyDocsHundredYears is restic's documented example: a backup every
// day for 100 years, --keep-daily 7 --keep-weekly 5 --keep-monthly 12
// --keep-yearly 75 keeps the 7 newest days, 4 more week ends (the newest
// week's is among the dailies), 11 more month ends and 74 more year ends.
func TestForgetApplyDocsHundredYears(t *testing.T) {
	var list []*repo.Snapshot
	for d := time.Date(1924, 1, 1, 3, 0, 0, 0, time.UTC); d.Year() < 2024; d = d.AddDate(0, 0, 1) {
		sn := &repo.Snapshot{Time: d}
		sn.ID = id.ID{byte(len(list) >> 16), byte(len(list) >> 8), byte(len(list))}
		list = append(list, sn)
	}
	res := Apply(list, Policy{Daily: 7, Weekly: 5, Monthly: 12, Yearly: 75}, time.UTC, time.Now())
	count := map[string]int{}
	for _, k := range res.Keep {
		for _, r := range k.Reasons {
			count[r]++
		}
		d := k.Snapshot.Time
		only := func(r string) bool { return slices.Equal(k.Reasons, []string{r}) }
		switch {
		case only("weekly snapshot") && d.Weekday() != time.Sunday,
			only("monthly snapshot") && d.AddDate(0, 0, 1).Day() != 1,
			only("yearly snapshot") && !(d.Month() == 12 && d.Day() == 31):
			t.Errorf("%s kept as %v", d.Format(layout), k.Reasons)
		}
	}
	if len(res.Keep) != 7+4+11+74 {
		t.Errorf("kept %d snapshots, want %d", len(res.Keep), 7+4+11+74)
	}
	want := map[string]int{"daily snapshot": 7, "weekly snapshot": 5, "monthly snapshot": 12, "yearly snapshot": 75}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("reasons counted %v, want %v", count, want)
	}
	if got := res.Keep[len(res.Keep)-1].Snapshot.Time.Year(); got != 1949 {
		t.Errorf("oldest kept is from %d, want 1949", got)
	}
	if len(res.Keep)+len(res.Remove) != len(list) {
		t.Errorf("%d kept + %d removed != %d", len(res.Keep), len(res.Remove), len(list))
	}
}

func TestForgetApplyCounters(t *testing.T) {
	res := Apply(snaps(t, sundays...), Policy{Last: 1, Daily: 3, Weekly: Unlimited}, time.UTC, time.Now())
	got := res.Keep[0].Counters
	if want := (Counters{Last: 0, Daily: 2, Weekly: Unlimited}); got != want {
		t.Errorf("counters after the newest: %+v, want %+v", got, want)
	}
	if n := len(res.Keep); n != len(sundays) {
		t.Errorf("unlimited weekly kept %d of %d weekly snapshots", n, len(sundays))
	}
}

func TestForgetPolicyValidateAndString(t *testing.T) {
	if err := (Policy{Daily: -2}).Validate(); err == nil {
		t.Error("daily -2 accepted")
	}
	if err := (Policy{Within: Duration{Days: -1}}).Validate(); err == nil {
		t.Error("negative duration accepted")
	}
	p := Policy{Last: 3, Daily: 7, Weekly: Unlimited, Within: Duration{Days: 2}, WithinDaily: Duration{Days: 7}, Tags: []repo.TagList{{"a", "b"}, {}}}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	want := "keep 3 latest, 7 daily, all weekly snapshots, all snapshots within 2d of the newest, daily snapshots within 7d, " +
		"all snapshots with tags a,b, all untagged snapshots"
	if got := p.String(); got != want {
		t.Errorf("String:\n  %s\nwant\n  %s", got, want)
	}
	if !(Policy{Tags: nil}).Empty() || (Policy{Tags: []repo.TagList{{}}}).Empty() || (Policy{Yearly: Unlimited}).Empty() {
		t.Error("Empty is wrong")
	}
}

// Without a time zone, each snapshot falls into the calendar buckets of the
// zone it was taken in (its recorded offset), as restic buckets them: two
// machines' snapshots half an hour apart, each before its own midnight and
// after it, are two days, whatever zone forget runs in.
func TestApplyOwnTimeZone(t *testing.T) {
	a, err := time.Parse(time.RFC3339, "2024-01-01T23:30:00+00:00")
	if err != nil {
		t.Fatal(err)
	}
	b, err := time.Parse(time.RFC3339, "2024-01-02T00:30:00+02:00") // 22:30 UTC on the 1st
	if err != nil {
		t.Fatal(err)
	}
	c := a.Add(-36 * time.Hour) // a day before, in any zone
	list := []*repo.Snapshot{{Time: c, ID: id.ID{3}}, {Time: b, ID: id.ID{1}}, {Time: a, ID: id.ID{2}}}
	kept := func(loc *time.Location) (ids []byte) {
		for _, k := range Apply(list, Policy{Daily: 2}, loc, a.Add(time.Hour)).Keep {
			ids = append(ids, k.Snapshot.ID[0])
		}
		return ids
	}
	if got := kept(nil); !slices.Equal(got, []byte{2, 1}) {
		t.Errorf("in their own zones, a and b are two days: kept %v", got)
	}
	if got := kept(time.UTC); !slices.Equal(got, []byte{2, 3}) {
		t.Errorf("in UTC, a and b are one day: kept %v", got)
	}
}
