package restore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// TestRoundTripLongPaths ingests a tree whose paths are longer than
// PATH_MAX (some 6000 bytes: no system call takes them whole) and
// restores it, fresh and then over itself (temporaries renamed into
// place, links replaced), with --verify: every entry and attribute must
// come back, and diff --live must find the live trees equal to the
// snapshot.
func TestRoundTripLongPaths(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	testtree.BuildDeep(t, src, 1)
	if n := len(filepath.Join(src, testtree.DeepBottom, "file")); n < unix.PathMax+1000 {
		t.Fatalf("the deepest path is %d bytes, not well over PATH_MAX", n)
	}
	r := repo.TestRepository(t)

	warn := func(what string) func(string, error) {
		return func(p string, err error) { t.Errorf("%s %s: %v", what, short(p), err) }
	}
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s", Warn: warn("ingest")})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	sum := res.Snapshot.Summary
	// Eight names of regular files: a-top-file and its link at the
	// bottom, file, sparse, the three names of pair-a, acl-dir/inherited.
	// Entries: the tree's 46 and the folders above src, as many as
	// TMPDIR makes (3 under /tmp).
	if want := 46 + strings.Count(filepath.Dir(src), "/"); sum.FilesNew != 8 || sum.TotalEntries != int64(want) {
		t.Errorf("ingest took %d new files and %d entries, want 8 and %d (%+v)", sum.FilesNew, sum.TotalEntries, want, sum)
	}

	dst := t.TempDir()
	for i, opt := range []restore.Options{
		{Target: dst, ReadPacks: true, Verify: true},
		{Target: dst, Overwrite: restore.Always, Verify: true},
	} {
		opt.Warn = warn("restore")
		st, err := restore.Run(ctx, r, res.Snapshot, src, opt)
		if err != nil {
			t.Fatalf("restore %d: %v", i+1, err)
		}
		// Five files written, three names linked to them.
		if st.Files != 5 || st.Links != 3 || st.Verified != 5 {
			t.Errorf("restore %d: %+v, want 5 files, 3 links, 5 verified", i+1, st)
		}
		if diffs := testtree.Compare(t, src, dst, testtree.CompareOptions{ATime: true, Sparse: true}); len(diffs) > 0 {
			t.Fatalf("restore %d: restored tree differs:\n%s", i+1, short(strings.Join(diffs, "\n")))
		}
	}

	// diff --live reads the deep entries too: nothing changed, then a
	// changed mode at the bottom.
	for _, live := range []string{src, dst} {
		var changes []string
		emit := func(c diff.Change) error { changes = append(changes, c.Kind.Marker()+" "+short(c.Path)); return nil }
		if _, err := diff.Live(ctx, r, res.Snapshot, src, live, diff.Options{Metadata: true, Warn: warn("diff --live")}, emit); err != nil {
			t.Fatalf("diff --live %s: %v", live, err)
		}
		if len(changes) > 0 {
			t.Errorf("diff --live %s: %d changes, want none:\n%s", live, len(changes), strings.Join(changes, "\n"))
		}
	}
	chmodDeep(t, dst, "fifo", 0o600)
	var changes []string
	emit := func(c diff.Change) error { changes = append(changes, c.Kind.Marker()+" "+c.Path); return nil }
	if _, err := diff.Live(ctx, r, res.Snapshot, src, dst, diff.Options{Metadata: true, Warn: warn("diff --live")}, emit); err != nil {
		t.Fatalf("diff --live: %v", err)
	}
	if want := "U /" + testtree.DeepBottom + "/fifo"; len(changes) != 1 || changes[0] != want {
		t.Errorf("diff --live after a chmod at the bottom: %q, want %q", changes, short(want))
	}
}

// chmodDeep changes the mode of name at the bottom of the deep tree at
// root, reaching it one folder at a time.
func chmodDeep(t *testing.T, root, name string, mode uint32) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Split(testtree.DeepBottom, "/") {
		sub, err := unix.Openat(dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		unix.Close(dir)
		if err != nil {
			t.Fatal(err)
		}
		dir = sub
	}
	defer unix.Close(dir)
	if err := unix.Fchmodat(dir, name, mode, 0); err != nil {
		t.Fatal(err)
	}
}

// short abbreviates the deep tree's 200-byte names in a message.
func short(s string) string {
	for _, c := range strings.Split(testtree.DeepBottom, "/") {
		s = strings.ReplaceAll(s, c, c[:6]+"…")
	}
	return s
}
