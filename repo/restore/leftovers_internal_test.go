package restore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/tree"
)

// A dry run notes the temporaries a killed restore left, but never looks
// through a symlink that stands where the snapshot has a folder, at any
// depth: the real run replaces it before it looks, and a dry run reads
// nothing outside the target. O_NOFOLLOW on the folder's own name left a
// symlink above it (target/a -> outside, the snapshot having a/b) followed.
func TestDryRunPartialsNotThroughSymlinkOnTheWay(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(target, "a")); err != nil {
		t.Fatal(err)
	}
	n := &tree.Node{Name: "f", Kind: tree.KindFile, Mode: 0o644}
	tmp := partialStem("f") + "0123456789abcdef"
	if err := os.WriteFile(filepath.Join(outside, "b", tmp), nil, os.FileMode(writingModeOf(n))); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(outside, "b", tmp), os.FileMode(writingModeOf(n)))
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(outside, "b", tmp), old, old)

	rs := &restorer{opt: Options{Target: target, DryRun: true}, began: time.Now().UnixNano()}
	rs.dropPartials(filepath.Join(target, "a", "b"), []*tree.Node{n})
	if len(rs.partials) != 0 {
		t.Errorf("the dry run looked through the symlink %s: noted %v", filepath.Join(target, "a"), rs.partials)
	}
	// A folder of the target itself: noted.
	if err := os.Remove(filepath.Join(target, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(outside, filepath.Join(target, "a")); err != nil {
		t.Fatal(err)
	}
	rs.dropPartials(filepath.Join(target, "a", "b"), []*tree.Node{n})
	if !rs.partials[filepath.Join(target, "a", "b", tmp)] {
		t.Errorf("the temporary in the target is not noted: %v", rs.partials)
	}
	if _, err := os.Stat(filepath.Join(target, "a", "b", tmp)); err != nil {
		t.Errorf("the dry run removed it: %v", err)
	}
}
