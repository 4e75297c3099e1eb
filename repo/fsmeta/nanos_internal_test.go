package fsmeta

import (
	"math"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A time a snapshot cannot hold in nanoseconds is recorded as the nearest
// one it can, never wrapped around to another century: a file dated 2400
// (ext4 keeps times up to 2446) used to come back dated 1815.
func TestNanosSaturates(t *testing.T) {
	at := func(s string) unix.Timespec {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return unix.Timespec{Sec: tm.Unix(), Nsec: int64(tm.Nanosecond())}
	}
	for _, c := range []struct {
		ts   unix.Timespec
		want int64
	}{
		{at("2024-05-06T07:08:09.123456789Z"), time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).UnixNano()},
		{at("1901-12-13T20:45:52Z"), time.Date(1901, 12, 13, 20, 45, 52, 0, time.UTC).UnixNano()},
		{at("2262-04-11T23:47:16.854775807Z"), math.MaxInt64},
		{at("2262-04-11T23:47:16.854775808Z"), math.MaxInt64},
		{at("2400-01-01T00:00:00.000000001Z"), math.MaxInt64},
		{at("2446-05-10T22:38:55.999999999Z"), math.MaxInt64},
		{at("1677-09-21T00:12:43.145224192Z"), math.MinInt64},
		{at("1677-09-21T00:12:43.145224193Z"), math.MinInt64 + 1},
		{at("1677-09-21T00:12:43.145224191Z"), math.MinInt64},
		{at("1600-01-01T00:00:00Z"), math.MinInt64},
	} {
		if got := nanos(c.ts); got != c.want {
			t.Errorf("%v: %d, want %d", time.Unix(c.ts.Sec, c.ts.Nsec).UTC(), got, c.want)
		}
	}
}

// clamps names exactly the times nanos changes, before 1970 as after.
func TestClamps(t *testing.T) {
	st := unix.Stat_t{
		Mtim: unix.Timespec{Sec: 16725225600},              // 2500-01-01
		Atim: unix.Timespec{Sec: -1, Nsec: 500_000_000},    // 1969, kept
		Ctim: unix.Timespec{Sec: -20_000_000_000, Nsec: 1}, // 1336, clamped
	}
	got := clamps(&st)
	if len(got) != 2 || got[0].Which != "mtime" || got[0].Stored != math.MaxInt64 || got[0].Real != st.Mtim ||
		got[1].Which != "ctime" || got[1].Stored != math.MinInt64 {
		t.Errorf("clamps = %+v", got)
	}
	st.Mtim = unix.Timespec{Sec: math.MaxInt64 / 1_000_000_000, Nsec: math.MaxInt64 % 1_000_000_000} // exactly the limit
	st.Ctim = st.Atim
	if got := clamps(&st); len(got) != 0 {
		t.Errorf("clamps at the limit = %+v", got)
	}
}
