package fsmeta_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
)

// TestRoundTrip copies a testtree with Stat, Create, Apply and a
// hole-keeping copy, expects Compare and rsync to find no difference, then
// damages the copy and expects Compare to notice each damage.
func TestRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
	testtree.Build(t, src, 42)
	must(t, os.Mkdir(dst, 0o700))
	copyTree(t, src, dst)

	if d := testtree.Compare(t, src, dst, testtree.CompareOptions{ATime: true, Sparse: true}); len(d) > 0 {
		t.Fatalf("copy differs:\n%s", strings.Join(d, "\n"))
	}
	t.Run("rsync", func(t *testing.T) { rsyncAgrees(t, src, dst) })
	t.Run("damage", func(t *testing.T) { damageIsReported(t, src, dst) })
}

// rsyncAgrees runs rsync's own comparison (dry run, itemized): it must
// want to change nothing. --modify-window=-1 makes it compare mtimes to
// the nanosecond; by default it compares whole seconds. rsync reads
// directories without O_NOATIME, so it runs after the atime comparison.
func rsyncAgrees(t *testing.T, src, dst string) {
	if _, err := exec.LookPath("rsync"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rsync is not installed; CI requires it")
		}
		t.Skip("rsync is not installed")
	}
	out, err := exec.Command("rsync", "-aHAXn", "-i", "--numeric-ids", "--delete",
		"--modify-window=-1", src+"/", dst+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("rsync: %v\n%s", err, out)
	}
	if len(out) > 0 {
		t.Errorf("rsync sees differences:\n%s", out)
	}
}

// damageIsReported changes one attribute of several entries in dst and
// expects Compare to report each of them, and nothing about the rest.
func damageIsReported(t *testing.T, src, dst string) {
	p := func(rel string) string { return filepath.Join(dst, rel) }
	// Mode.
	must(t, unix.Chmod(p(testtree.FileSmall), 0o600))
	// Mtime by one nanosecond, on a file and on a symlink.
	for _, rel := range []string{testtree.FileText, testtree.Symlink} {
		st := lstat(t, p(rel))
		setTimes(t, p(rel), st.Atim.Nano(), st.Mtim.Nano()+1)
	}
	// An xattr value.
	must(t, unix.Lsetxattr(p(testtree.XattrFile), "user.comment", []byte("changed"), 0))
	// A hardlink replaced by an identical copy; its directory's times restored.
	n, err := fsmeta.Stat(filepath.Join(src, testtree.LinkPairB))
	must(t, err)
	must(t, os.Remove(p(testtree.LinkPairB)))
	copyFile(t, filepath.Join(src, testtree.LinkPairB), p(testtree.LinkPairB), int64(n.Size))
	must(t, fsmeta.Apply(p(testtree.LinkPairB), n, fsmeta.ApplyOptions{}))
	restoreTimes(t, src, dst, filepath.Dir(testtree.LinkPairB))
	// A hole filled with zeros: same bytes, more blocks.
	f, err := os.OpenFile(p(testtree.SparseMiddle), os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt(make([]byte, 32<<20), 1<<20)
	must(t, err)
	must(t, f.Close())
	restoreTimes(t, src, dst, testtree.SparseMiddle)
	// Atime by one nanosecond.
	st := lstat(t, p(testtree.FileBig))
	setTimes(t, p(testtree.FileBig), st.Atim.Nano()+1, st.Mtim.Nano())

	diffs := testtree.Compare(t, src, dst, testtree.CompareOptions{Sparse: true})
	want := map[string][]string{
		testtree.FileSmall:    {"mode 0644 in src, 0600 in dst"},
		testtree.FileText:     {"mtime"},
		testtree.Symlink:      {"mtime"},
		testtree.XattrFile:    {`xattr user.comment is "hello, xattrs" in src, "changed" in dst`},
		testtree.LinkPairA:    {"nlink 2 in src, 1 in dst", "hardlinked with"},
		testtree.LinkPairB:    {"nlink 2 in src, 1 in dst", "hardlinked with"},
		testtree.SparseMiddle: {"sparse"},
	}
	checkDiffs(t, diffs, want)

	diffs = testtree.Compare(t, src, dst, testtree.CompareOptions{ATime: true})
	if !hasDiff(diffs, testtree.FileBig, "atime") {
		t.Errorf("a changed atime is not reported:\n%s", strings.Join(diffs, "\n"))
	}
}

// restoreTimes copies rel's atime and mtime from src to dst.
func restoreTimes(t *testing.T, src, dst, rel string) {
	st := lstat(t, filepath.Join(src, rel))
	setTimes(t, filepath.Join(dst, rel), st.Atim.Nano(), st.Mtim.Nano())
}

// checkDiffs expects every wanted (path, text) in diffs and no diff about
// any other path.
func checkDiffs(t *testing.T, diffs []string, want map[string][]string) {
	t.Helper()
	for rel, texts := range want {
		for _, text := range texts {
			if !hasDiff(diffs, rel, text) {
				t.Errorf("no diff %q for %q", text, rel)
			}
		}
	}
	for _, d := range diffs {
		known := false
		for rel := range want {
			known = known || strings.HasPrefix(d, fmt.Sprintf("%q: ", rel))
		}
		if !known {
			t.Errorf("unexpected diff: %s", d)
		}
	}
	if t.Failed() {
		t.Logf("diffs:\n%s", strings.Join(diffs, "\n"))
	}
}

func hasDiff(diffs []string, rel, text string) bool {
	for _, d := range diffs {
		if strings.HasPrefix(d, fmt.Sprintf("%q: ", rel)) && strings.Contains(d, text) {
			return true
		}
	}
	return false
}
