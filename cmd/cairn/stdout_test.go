package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every command prints through stdout (stdout.go), so that a failed write
// is an error: a direct fmt.Print or os.Stdout write would lose it again.
func TestPrintsGoThroughStdout(t *testing.T) {
	direct := regexp.MustCompile(`\bfmt\.Print(f|ln)?\(|\bos\.Stdout\b`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "stdout.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.ReplaceAll(line, "isTerminal(os.Stdout)", "")
			if direct.MatchString(line) {
				t.Errorf("%s:%d: prints past stdout: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// writeCounter counts the writes through it.
type writeCounter struct{ writes [][]byte }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, append([]byte(nil), p...))
	return len(p), nil
}

// TestPrintJSONOneWrite: a JSON line is one write, however long, so that
// lines printed from several goroutines at once (ingest -v --json's
// verbose_status lines beside its status lines) cannot interleave. A
// line longer than bufio's 4096 bytes (a deep path) used to be written
// in two: the object, then its newline.
func TestPrintJSONOneWrite(t *testing.T) {
	saved := stdout
	defer func() { stdout = saved }()
	rec := &writeCounter{}
	stdout = &checkedWriter{w: rec}
	long := "/" + strings.Repeat("d/", 3000) + "f"
	printJSON(map[string]any{"message_type": "verbose_status", "action": "new", "item": long})
	if len(rec.writes) != 1 {
		t.Fatalf("%d writes for one JSON line, want 1", len(rec.writes))
	}
	if w := rec.writes[0]; w[len(w)-1] != '\n' || strings.Count(string(w), "\n") != 1 {
		t.Errorf("the write is not one line: ...%q", w[len(w)-20:])
	}
}
