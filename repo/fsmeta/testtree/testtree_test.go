package testtree

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildDeterministic builds the same seed twice and expects identical
// trees, then a different seed and expects Compare to say so.
func TestBuildDeterministic(t *testing.T) {
	tmp := t.TempDir()
	a, b, c := filepath.Join(tmp, "a"), filepath.Join(tmp, "b"), filepath.Join(tmp, "c")
	Build(t, a, 1)
	Build(t, b, 1)
	if d := Compare(t, a, b, CompareOptions{ATime: true, Sparse: true}); len(d) > 0 {
		t.Fatalf("same seed, different trees:\n%s", strings.Join(d, "\n"))
	}
	if d := Compare(t, a, a, CompareOptions{ATime: true, Sparse: true}); len(d) > 0 {
		t.Fatalf("tree differs from itself:\n%s", strings.Join(d, "\n"))
	}
	Build(t, c, 2)
	d := Compare(t, a, c, CompareOptions{})
	if !contains(d, FileBig, "content differs") && !contains(d, FileBig, "size") {
		t.Errorf("seeds 1 and 2 gave the same %s; diffs:\n%s", FileBig, strings.Join(d, "\n"))
	}
}

func contains(diffs []string, rel, what string) bool {
	for _, d := range diffs {
		if strings.HasPrefix(d, `"`+rel+`"`) && strings.Contains(d, what) {
			return true
		}
	}
	return false
}
