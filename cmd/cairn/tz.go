package main

import (
	"encoding/binary"
	"os"
	"strings"
	"time"
)

// posixLocalZone makes time.Local follow a TZ given as a POSIX rule
// (TZ='CET-1CEST,M3.5.0,M10.5.0/3', as embedded systems and some
// containers set it), which date, cron and the C library understand but
// Go's time package takes for UTC without a word: cairn then showed
// snapshot times, named them in a mount, bucketed forget's days and ran
// the daemon's schedules an hour or two off the machine's clock. Go reads
// such a rule as the footer of a zoneinfo file, so one with no transitions
// is built around it. A TZ naming a zone file is left to Go.
func posixLocalZone() {
	tz, ok := os.LookupEnv("TZ")
	tz = strings.TrimPrefix(tz, ":")
	if !ok || tz == "" || tz == "UTC" || tz[0] == '/' || time.Local.String() != "UTC" {
		return // unset, UTC, or a zone Go loaded
	}
	if _, err := time.LoadLocation(tz); err == nil {
		return
	}
	if loc, ok := posixZone(tz); ok {
		time.Local = loc
	}
}

// posixZone is the location a POSIX TZ rule describes, or false when tz
// does not look like one (a name, std offset[dst[offset][,rule]]).
func posixZone(tz string) (*time.Location, bool) {
	i := 0
	if strings.HasPrefix(tz, "<") {
		i = strings.IndexByte(tz, '>') + 1
		if i <= 1 {
			return nil, false
		}
	} else {
		for i < len(tz) && (tz[i] >= 'A' && tz[i] <= 'Z' || tz[i] >= 'a' && tz[i] <= 'z') {
			i++
		}
		if i < 3 {
			return nil, false
		}
	}
	// An offset must follow the name: "Europe/Berlin" or "Invalid" are
	// misspelt zone names, not rules.
	if i == len(tz) || !strings.ContainsRune("+-0123456789", rune(tz[i])) {
		return nil, false
	}
	// A TZif version 2 file: an empty version 1 block, then one local
	// time type (UTC, used by nobody: the footer covers all time) and
	// the rule as the footer.
	var b []byte
	header := func() {
		b = append(b, "TZif2"...)
		b = append(b, make([]byte, 15)...)
		for _, n := range []uint32{0, 0, 0, 0, 1, 4} { // isut, isstd, leap, time, type, char
			b = binary.BigEndian.AppendUint32(b, n)
		}
		b = append(b, 0, 0, 0, 0, 0, 0) // ttinfo: offset 0, not DST, abbreviation 0
		b = append(b, "UTC\x00"...)
	}
	header()
	header()
	b = append(b, '\n')
	b = append(b, tz...)
	b = append(b, '\n')
	loc, err := time.LoadLocationFromTZData(tz, b)
	if err != nil {
		return nil, false
	}
	return loc, true
}
