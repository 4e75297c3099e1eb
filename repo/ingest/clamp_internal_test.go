package ingest

import (
	"math"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// The seconds since the epoch in a clamp's message are the file's time:
// before 1970 with a fraction, -20000000000 s + 1 ns is
// -19999999999.999999999 s, not -20000000000.000000001.
func TestClampMessageSeconds(t *testing.T) {
	for _, tc := range []struct {
		ts   unix.Timespec
		want string
	}{
		{unix.Timespec{Sec: 16725225600}, "(16725225600 s since the epoch)"},
		{unix.Timespec{Sec: 16725225600, Nsec: 5}, "(16725225600.000000005 s since the epoch)"},
		{unix.Timespec{Sec: -20_000_000_000}, "(-20000000000 s since the epoch)"},
		{unix.Timespec{Sec: -20_000_000_000, Nsec: 1}, "(-19999999999.999999999 s since the epoch)"},
	} {
		stored := int64(math.MaxInt64)
		if tc.ts.Sec < 0 {
			stored = math.MinInt64
		}
		if got := clampMessage(fsmeta.Clamp{Which: "mtime", Real: tc.ts, Stored: stored}); !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q, want %q in it", tc.ts, got, tc.want)
		}
	}
}
