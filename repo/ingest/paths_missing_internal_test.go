package ingest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestPresentPathsNoneThere: when no path given is there, the error names
// each one (not only the first), up to missingNamed of them, and says how
// many more: a --files-from list of 50,000 files on a disk not mounted is
// not put in one line.
func TestPresentPathsNoneThere(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 12 {
		paths = append(paths, filepath.Join(dir, fmt.Sprintf("nope%02d", i)))
	}
	_, _, err := presentPaths(paths[:2])
	if err == nil || !strings.Contains(err.Error(), paths[0]+" (no such file or folder), "+paths[1]+" (no such file or folder): none of the paths given is there") {
		t.Errorf("two missing paths: %v", err)
	}
	_, _, err = presentPaths(paths)
	if err == nil {
		t.Fatal("twelve missing paths: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, paths[9]+" (no such file or folder), and 2 more: none of the paths given") || strings.Contains(msg, paths[10]) {
		t.Errorf("twelve missing paths: %s", msg)
	}
}
