package testtree

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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

// TestBuildDeep builds the tree deeper than PATH_MAX twice and expects
// Compare to walk it and find the two equal, and then a change at the
// bottom.
func TestBuildDeep(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "a"), filepath.Join(tmp, "b")
	BuildDeep(t, a, 1)
	BuildDeep(t, b, 1)
	if d := Compare(t, a, b, CompareOptions{ATime: true, Sparse: true}); len(d) > 0 {
		t.Fatalf("same seed, different trees:\n%s", strings.Join(d, "\n"))
	}
	if len(filepath.Join(a, DeepBottom, "file")) < unix.PathMax+1000 {
		t.Fatalf("the deep tree is only %d bytes deep", len(filepath.Join(a, DeepBottom)))
	}
	// A change at the bottom, made through the folder (the path is too
	// long for one call).
	dir, err := unix.Open(a, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	for _, name := range strings.Split(DeepBottom, "/") {
		sub, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(dir)
		dir = sub
	}
	if err := unix.Fchownat(dir, "fifo", 7, 7, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	d := Compare(t, a, b, CompareOptions{})
	if !contains(d, filepath.Join(DeepBottom, "fifo"), "owner 7:7 in src") {
		t.Errorf("a changed owner at the bottom is not found; diffs:\n%s", strings.Join(d, "\n"))
	}
}
