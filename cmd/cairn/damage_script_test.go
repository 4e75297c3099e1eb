package main

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// flipbyte OFFSET GLOB flips one bit of the byte at OFFSET in the one file
// GLOB matches: damage that only reading the data finds.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte offset glob")
	}
	off, err := strconv.Atoi(args[0])
	if err != nil || off < 0 {
		ts.Fatalf("flipbyte: bad offset %q", args[0])
	}
	matches, err := filepath.Glob(ts.MkAbs(args[1]))
	ts.Check(err)
	if len(matches) != 1 {
		ts.Fatalf("flipbyte: %s matches %d files, want 1", args[1], len(matches))
	}
	b, err := os.ReadFile(matches[0])
	ts.Check(err)
	if off >= len(b) {
		ts.Fatalf("flipbyte: %s has %d bytes", matches[0], len(b))
	}
	b[off] ^= 0x10
	ts.Check(os.Chmod(matches[0], 0o644)) // stored objects may be read-only
	ts.Check(os.WriteFile(matches[0], b, 0o644))
}
