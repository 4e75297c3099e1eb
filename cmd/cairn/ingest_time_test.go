package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// ingest --time takes restic's "2006-01-02 15:04:05" in the local zone as
// well as RFC 3339, and refuses a wall time a daylight saving change skips
// or repeats instead of picking an instant for it.
func TestParseTimeFlag(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, c := range []struct{ in, want, err string }{
		{"2026-03-29T02:30:00+02:00", "2026-03-29T02:30:00+02:00", ""},
		{"2026-03-29T02:30:00.5Z", "2026-03-29T02:30:00.5Z", ""},
		{"2026-01-10 04:05:06", "2026-01-10T04:05:06+01:00", ""},
		{"2026-07-10 04:05:06", "2026-07-10T04:05:06+02:00", ""},
		{"2026-03-29 01:59:59", "2026-03-29T01:59:59+01:00", ""},
		{"2026-03-29 03:00:00", "2026-03-29T03:00:00+02:00", ""},
		{"2026-10-25 03:00:00", "2026-10-25T03:00:00+01:00", ""},
		{"2026-03-29 02:30:00", "", "does not exist in time zone Europe/Berlin"},
		{"2026-10-25 02:30:00", "", "comes twice in time zone Europe/Berlin (the clocks repeat it): give it in RFC 3339 with its offset, 2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00"},
		{"2026-10-25T02:30", "", "neither RFC 3339"},
	} {
		got, err := parseTimeFlag(c.in, loc)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one saying %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != c.want {
			t.Errorf("%s: %s, %v; want %s", c.in, got.Format(time.RFC3339Nano), err, c.want)
		}
	}
}
