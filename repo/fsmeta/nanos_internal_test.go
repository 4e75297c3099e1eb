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
