package forget

import (
	"testing"
	"time"
)

func TestForgetParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Duration
		str  string
	}{
		{"", Duration{}, ""},
		{"2d", Duration{Days: 2}, "2d"},
		{"1y5m7d2h", Duration{Years: 1, Months: 5, Days: 7, Hours: 2}, "1y5m7d2h"},
		{"2h3d", Duration{Days: 3, Hours: 2}, "3d2h"},
		{"1y1d1m", Duration{Years: 1, Months: 1, Days: 1}, "1y1m1d"},
		{"0d", Duration{}, ""},
		{"1d2d", Duration{Days: 2}, "2d"},
		{"75y", Duration{Years: 75}, "75y"},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.str {
			t.Errorf("%q.String() = %q, want %q", tc.in, got.String(), tc.str)
		}
	}
	for _, bad := range []string{"1w", "d", "3", "1d3", "-1d", "1.5d", " 1d", "1D", "99999999999999999999d"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestForgetDurationBefore(t *testing.T) {
	ref := time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    string
		want string
	}{
		{"1d", "2024-03-30 12:00:00"},
		{"1m", "2024-03-02 12:00:00"}, // February 31st is March 2nd, as in Go and restic
		{"1y2h", "2023-03-31 10:00:00"},
		{"36h", "2024-03-30 00:00:00"},
	} {
		d, _ := ParseDuration(tc.d)
		if got := d.Before(ref).Format(layout); got != tc.want {
			t.Errorf("%s before %v = %s, want %s", tc.d, ref, got, tc.want)
		}
	}
}
