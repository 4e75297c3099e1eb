package restore_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (devices, ownership, trusted xattrs)")
		}
		t.Skip("needs root")
	}
}

// TestRoundTrip ingests a tree holding every kind of entry and attribute
// and restores it: every byte and attribute must come back.
func TestRoundTrip(t *testing.T) { roundTrip(t, false) }

// TestRoundTripReadPacks restores the same way remote storage does:
// runs of blobs read from a pack with one request each.
func TestRoundTripReadPacks(t *testing.T) { roundTrip(t, true) }

func roundTrip(t *testing.T, readPacks bool) {
	requireRoot(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 1)
	r := repo.TestRepository(t)

	var warnings []string
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s",
		Warn: func(p string, err error) { warnings = append(warnings, p+": "+err.Error()) }})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if len(warnings) > 0 {
		t.Fatalf("ingest warnings: %v", warnings)
	}
	dst := t.TempDir()
	st, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, ReadPacks: readPacks,
		Warn: func(p string, err error) { t.Errorf("restore %s: %v", p, err) }})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if st.Files == 0 {
		t.Fatal("restored no files")
	}
	if diffs := testtree.Compare(t, src, dst, testtree.CompareOptions{ATime: true, Sparse: true}); len(diffs) > 0 {
		t.Fatalf("restored tree differs:\n%s", strings.Join(diffs, "\n"))
	}
	// Unchanged re-ingest reads nothing and stores nothing new.
	res2, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatalf("second ingest: %v", err)
	}
	s2 := res2.Snapshot.Summary
	// Trees may change (reading a symlink moves its atime); data may not.
	if s2.FilesNew != 0 || s2.FilesChanged != 0 || s2.DataBlobs != 0 || s2.FilesUnchanged != res.Snapshot.Summary.FilesNew {
		t.Fatalf("unchanged re-ingest: %+v (first: %+v)", s2, res.Snapshot.Summary)
	}
	if res2.Snapshot.Parent == nil || *res2.Snapshot.Parent != res.Snapshot.ID {
		t.Fatalf("parent of second snapshot = %v, want %s", res2.Snapshot.Parent, res.Snapshot.ID)
	}
	// The real rsync, as a user would check it: every attribute it carries,
	// nanosecond mtimes included (--modify-window=-1), hardlinks, ACLs,
	// xattrs, devices.
	if _, err := exec.LookPath("rsync"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("rsync is not installed (make deps installs it)")
		}
		t.Skip("rsync not installed")
	}
	out, err := exec.Command("rsync", "-aHAXn", "-i", "--numeric-ids", "--delete", "--modify-window=-1", src+"/", dst+"/").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("rsync -aHAXn finds differences (%v):\n%s", err, out)
	}

}
