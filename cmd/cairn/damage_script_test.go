package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/tree"
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

// badentry NAME saves a copy of the latest snapshot whose folder of
// ingested files also holds an empty file named NAME, written as it is (Go
// escapes such as \x00 are understood): a crafted or damaged tree.
func cmdBadEntry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: badentry name")
	}
	name, err := strconv.Unquote(`"` + args[0] + `"`)
	ts.Check(err)
	ctx := context.Background()
	be, err := local.Open(ts.Getenv("CAIRN_REPOSITORY"))
	ts.Check(err)
	pw, err := os.ReadFile(ts.Getenv("CAIRN_PASSWORD_FILE"))
	ts.Check(err)
	r, err := repo.Open(ctx, be, repo.Options{Password: bytes.TrimSpace(pw), CacheDir: ts.Getenv("CAIRN_CACHE_DIR")})
	ts.Check(err)
	defer r.Close()
	sn, err := r.FindSnapshot(ctx, "latest", repo.Filter{})
	ts.Check(err)
	r.TestAddEntries(scriptTB{ts}, sn, &tree.Node{Name: name, Kind: tree.KindFile, Mode: 0o644})
}

// scriptTB is the part of testing.TB the repository's test helpers use.
type scriptTB struct{ ts *testscript.TestScript }

func (s scriptTB) Helper()           {}
func (s scriptTB) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
