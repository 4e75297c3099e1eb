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
