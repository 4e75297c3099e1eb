package daemon

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
)

func TestParseScheduleCron(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	at := time.Date(2025, 3, 14, 10, 20, 30, 0, loc) // a Friday
	for _, tc := range []struct {
		spec string
		want time.Time
	}{
		{"0 3 * * *", time.Date(2025, 3, 15, 3, 0, 0, 0, loc)},
		{"30 10 * * *", time.Date(2025, 3, 14, 10, 30, 0, 0, loc)},
		{"*/15 * * * *", time.Date(2025, 3, 14, 10, 30, 0, 0, loc)},
		{"0 5 * * 0", time.Date(2025, 3, 16, 5, 0, 0, 0, loc)},
		{"0 0 1 JAN *", time.Date(2026, 1, 1, 0, 0, 0, 0, loc)},
		{"@hourly", time.Date(2025, 3, 14, 11, 0, 0, 0, loc)},
		{"@daily", time.Date(2025, 3, 15, 0, 0, 0, 0, loc)},
		{"@midnight", time.Date(2025, 3, 15, 0, 0, 0, 0, loc)},
		{"@weekly", time.Date(2025, 3, 16, 0, 0, 0, 0, loc)},
		{"@monthly", time.Date(2025, 4, 1, 0, 0, 0, 0, loc)},
		{"@yearly", time.Date(2026, 1, 1, 0, 0, 0, 0, loc)},
		{"@annually", time.Date(2026, 1, 1, 0, 0, 0, 0, loc)},
		{"CRON_TZ=UTC 0 9 * * *", time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)},
	} {
		s, err := ParseSchedule(tc.spec)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if got := s.Next(at); !got.Equal(tc.want) {
			t.Errorf("%s: Next(%v) = %v, want %v", tc.spec, at, got, tc.want)
		}
		if _, ok := s.Interval(); ok {
			t.Errorf("%s: Interval says interval", tc.spec)
		}
		if s.String() != tc.spec {
			t.Errorf("String() = %q", s.String())
		}
	}
	// Next is strictly after: at a firing time, the next one.
	s, _ := ParseSchedule("0 3 * * *")
	three := time.Date(2025, 3, 15, 3, 0, 0, 0, loc)
	if got := s.Next(three); !got.Equal(three.AddDate(0, 0, 1)) {
		t.Errorf("Next at a firing time = %v", got)
	}
}

func TestParseScheduleInterval(t *testing.T) {
	at := time.Date(2025, 3, 14, 10, 20, 30, 0, time.UTC)
	for spec, d := range map[string]time.Duration{
		"6h": 6 * time.Hour, "30m": 30 * time.Minute, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour,
		"1h30m": 90 * time.Minute, "90s": 90 * time.Second,
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got, ok := s.Interval(); !ok || got != d {
			t.Errorf("%s: Interval() = %v, %v", spec, got, ok)
		}
		if got := s.Next(at); !got.Equal(at.Add(d)) {
			t.Errorf("%s: Next = %v", spec, got)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	for _, spec := range []string{
		"", "  ", "0", "0s", "6x", "-1h", "every day", "61 * * * *", "0 3 * *", "0 3 * * * *",
		"@every 1h", "@often", "0 0 30 2 *", "CRON_TZ=Nowhere/Land 0 3 * * *",
	} {
		if s, err := ParseSchedule(spec); err == nil {
			t.Errorf("ParseSchedule(%q) = %v, want an error", spec, s)
		}
	}
}

func TestJitter(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	if Jitter(0, rnd) != 0 || Jitter(0, nil) != 0 {
		t.Error("jitter without a maximum")
	}
	max := Duration(time.Minute)
	seen := map[time.Duration]bool{}
	for range 1000 {
		for _, r := range []*rand.Rand{rnd, nil} {
			j := Jitter(max, r)
			if j < 0 || j >= time.Minute {
				t.Fatalf("Jitter = %v, out of [0, 1m)", j)
			}
			seen[j/time.Second] = true
		}
	}
	if len(seen) < 50 {
		t.Errorf("jitter spans only %d of 60 seconds", len(seen))
	}
}

// A cron source whose scheduled time passed while the daemon was stopped
// (or the machine off) runs once at start, as a systemd timer with
// Persistent=true does; one that did not miss a time, or has no snapshot
// yet, waits for its next time. An interval source runs when overdue.
func TestFirstRunCatchesUpMissedTime(t *testing.T) {
	daily, err := ParseSchedule("CRON_TZ=UTC 0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	every, err := ParseSchedule("6h")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tomorrow := time.Date(2026, 3, 11, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		s      Schedule
		newest time.Time
		want   time.Time
	}{
		{"cron missed", daily, time.Date(2026, 3, 9, 3, 5, 0, 0, time.UTC), now},
		{"cron missed days ago", daily, time.Date(2026, 2, 1, 3, 5, 0, 0, time.UTC), now},
		{"cron missed, offset zone", daily, time.Date(2026, 3, 9, 4, 5, 0, 0, time.FixedZone("", 3600)), now},
		{"cron done today", daily, time.Date(2026, 3, 10, 3, 5, 0, 0, time.UTC), tomorrow},
		{"cron no snapshot", daily, time.Time{}, tomorrow},
		{"interval overdue", every, time.Date(2026, 3, 10, 5, 0, 0, 0, time.UTC), now},
		{"interval not due", every, time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)},
		{"interval no snapshot", every, time.Time{}, now},
		// A last run recorded while the clock was a year ahead (check
		// and prune keep theirs in the state folder).
		{"interval last run in the future", every, now.AddDate(1, 0, 0), now.Add(6 * time.Hour)},
		{"cron last run in the future", daily, now.AddDate(1, 0, 0), tomorrow},
	} {
		if got := firstRun(c.s, now, c.newest, 0); !got.Equal(c.want) {
			t.Errorf("%s: first run at %s, want %s", c.name, got, c.want)
		}
	}
}

// A snapshot dated in the future (ingest --time, or a clock that was
// ahead) does not put off an interval source's first run until an
// interval after that date: the newest snapshot not in the future counts.
func TestFirstRunIgnoresSnapshotInFuture(t *testing.T) {
	every, err := ParseSchedule("6h")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	snaps := []*repo.Snapshot{
		{Host: "h", Source: "s", Time: time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)},
		{Host: "h", Source: "s", Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Host: "h", Source: "t", Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	newest := newestOf(snaps, "h", now)
	if got, want := firstRun(every, now, newest["s"], 0), time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("source with a past and a future snapshot: first run at %s, want %s", got, want)
	}
	if got := firstRun(every, now, newest["t"], 0); !got.Equal(now) {
		t.Errorf("source with only a future snapshot: first run at %s, want now (%s)", got, now)
	}
}

// Across daylight saving changes a cron schedule at fixed hours fires
// once a day as cron does: not twice when the clocks are set back and
// repeat its time, and at the change rather than a day later when they
// are set forward over it. An hourly schedule keeps firing every hour.
func TestCronScheduleDaylightSaving(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		unavailable(t, err.Error()) // tzdata
	}
	at := func(s string) time.Time {
		t.Helper()
		x, err := time.ParseInLocation("2006-01-02 15:04 MST", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, c := range []struct {
		sched, from string
		want        []string
	}{
		// 2026-03-29: 02:00 CET becomes 03:00 CEST.
		{"30 2 * * *", "2026-03-28 12:00 CET", []string{"2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"}},
		{"0 2 * * 0", "2026-03-28 12:00 CET", []string{"2026-03-29 03:00 CEST", "2026-04-05 02:00 CEST"}},
		{"30 1 * * *", "2026-03-28 12:00 CET", []string{"2026-03-29 01:30 CET", "2026-03-30 01:30 CEST"}},
		{"0 * * * *", "2026-03-29 00:30 CET", []string{"2026-03-29 01:00 CET", "2026-03-29 03:00 CEST", "2026-03-29 04:00 CEST"}},
		// 2026-10-25: 03:00 CEST becomes 02:00 CET.
		{"30 2 * * *", "2026-10-25 01:50 CEST", []string{"2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"}},
		{"@daily", "2026-10-24 12:00 CEST", []string{"2026-10-25 00:00 CEST", "2026-10-26 00:00 CET"}},
		{"0 * * * *", "2026-10-25 01:30 CEST", []string{"2026-10-25 02:00 CEST", "2026-10-25 02:00 CET", "2026-10-25 03:00 CET"}},
		// More times in the repeated hour than a few: none fires twice.
		{"*/10 2 * * *", "2026-10-25 02:45 CEST", []string{"2026-10-25 02:50 CEST", "2026-10-26 02:00 CET"}},
		{"* 2 * * *", "2026-10-25 02:58 CEST", []string{"2026-10-25 02:59 CEST", "2026-10-26 02:00 CET"}},
		{"*/15 1-2 * * *", "2026-10-25 02:40 CEST", []string{"2026-10-25 02:45 CEST", "2026-10-26 01:00 CET"}},
	} {
		s, err := ParseSchedule(c.sched)
		if err != nil {
			t.Fatal(err)
		}
		x := at(c.from)
		for _, w := range c.want {
			x = s.Next(x)
			if !x.Equal(at(w)) {
				t.Errorf("%q from %s: got %s, want %s", c.sched, c.from, x.Format("2006-01-02 15:04 MST"), w)
				break
			}
		}
	}
	// The same with the zone named in the schedule, asked in UTC.
	s, err := ParseSchedule("CRON_TZ=Europe/Berlin 30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(at("2026-03-28 12:00 CET").UTC()); !got.Equal(at("2026-03-29 03:00 CEST")) {
		t.Errorf("CRON_TZ schedule: got %s, want 2026-03-29 01:00 UTC", got)
	}
	if got := s.Next(at("2026-10-25 02:30 CEST").UTC()); !got.Equal(at("2026-10-26 02:30 CET")) {
		t.Errorf("CRON_TZ schedule: got %s, want 2026-10-26 01:30 UTC", got)
	}
}
