package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-backup/cairn/repo/filter"
	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// readPatterns returns the patterns given as flags, then those read from
// the files named by flag (an exclude file of restic's form), checked.
func readPatterns(flag string, given, files []string) ([]string, error) {
	out := append([]string{}, given...)
	for _, name := range files {
		ps, err := filter.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out = append(out, ps...)
	}
	if _, err := filter.Parse(out); err != nil {
		return nil, err
	}
	return out, nil
}

// listedPaths reads the --files-from lists, as restic does (a list with a
// byte order mark is decoded as an exclude file is): --files-from
// takes a line trimmed of spaces, skips blank lines and # comments, and
// expands globs (a line that matches nothing is skipped with a warning);
// --files-from-verbatim takes each non-empty line as it is (but for the
// CR of a CRLF line end);
// --files-from-raw takes each name between NUL bytes. "-" is standard
// input.
func (f *ingestFlags) listedPaths(ctx context.Context) ([]string, error) {
	var out []string
	for _, name := range f.filesFrom {
		b, err := readList(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("--files-from: %w", err)
		}
		b = filter.DecodeText(b)
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Buffer(nil, 1<<20)
		for n := 1; s.Scan(); n++ {
			l := strings.TrimSpace(s.Text())
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			m, err := filepath.Glob(l)
			if err != nil {
				return nil, fmt.Errorf("--files-from %s:%d: %q: %w", name, n, l, err)
			}
			if len(m) == 0 && !hasGlobMeta(l) {
				// Glob finds no path of PATH_MAX bytes or more (the
				// kernel refuses it whole), but the ingest reads one.
				if _, err := fsmeta.Lstat(l); err == nil {
					m = []string{l}
				}
			}
			if len(m) == 0 {
				fmt.Fprintf(os.Stderr, "cairn: --files-from %s:%d: nothing matches %q, skipped\n", name, n, l)
			}
			out = append(out, m...)
		}
		if err := s.Err(); err != nil {
			return nil, fmt.Errorf("--files-from %s: %w", name, err)
		}
	}
	for _, name := range f.filesFromVerb {
		b, err := readList(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("--files-from-verbatim: %w", err)
		}
		b = filter.DecodeText(b)
		for _, l := range strings.Split(string(b), "\n") {
			// A list written on Windows ends its lines in CRLF: the
			// CR is not part of the name (as restic reads it).
			l = strings.TrimSuffix(l, "\r")
			if l != "" {
				out = append(out, l)
			}
		}
	}
	for _, name := range f.filesFromRaw {
		b, err := readList(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("--files-from-raw: %w", err)
		}
		for _, l := range strings.Split(string(b), "\x00") {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func readList(ctx context.Context, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cancelableStdin(ctx, os.Stdin)) // Ctrl-C ends a wait for input that has not come
	}
	return os.ReadFile(name)
}

// hasGlobMeta reports whether filepath.Glob takes l for a pattern rather
// than a name.
func hasGlobMeta(l string) bool {
	return strings.ContainsAny(l, `*?[\`)
}
