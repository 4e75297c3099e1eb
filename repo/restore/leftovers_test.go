package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore killed outright left the temporaries of the files it was
// writing (".NAME.cairn-partial-…", tens of MiB each) in the target, and
// running it again left them there for good (only --delete removed them).
// The next restore removes those of the files it restores, in the target
// and in the folders below it, and nothing that merely looks like one.
func TestRestoreRemovesKilledRestoresTemporaries(t *testing.T) {
	bctx := context.Background()
	r := repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o755)
	for _, p := range []string{"f", "sub/g", "sub/deep/h", "mode200", "skipped"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte("content of "+p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "mode200"), 0o200)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "sub", "deep"), 0o755)
	const rnd = "0123456789abcdef"
	put := func(p string, mode os.FileMode) string {
		p = filepath.Join(dst, p)
		if err := os.WriteFile(p, []byte("half written"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	gone := []string{
		put(".f"+restore.PartialSuffix+rnd, 0o200),
		put("sub/.g"+restore.PartialSuffix+rnd, 0o200),
		put("sub/deep/.h"+restore.PartialSuffix+"fedcba9876543210", 0o200),
		put(".mode200"+restore.PartialSuffix+rnd, 0o300), // its writing mode
	}
	kept := []string{
		put(".f"+restore.PartialSuffix+"0123", 0o200),             // not the random part cairn writes
		put(".f"+restore.PartialSuffix+"0123456789ABCDEF", 0o200), // nor its case
		put(".f"+restore.PartialSuffix+"x123456789abcdef", 0o200),
		put(".f"+restore.PartialSuffix+rnd+"0", 0o200),
		put(".g"+restore.PartialSuffix+rnd, 0o200),                      // no g in this folder
		put(".nosuch"+restore.PartialSuffix+rnd, 0o200),                 // no such file in the snapshot
		put("sub/.f"+restore.PartialSuffix+rnd, 0o200),                  // f is in the folder above
		put(".skipped"+restore.PartialSuffix+rnd, 0o200),                // excluded: not restored
		put(".mode200"+restore.PartialSuffix+"aaaaaaaaaaaaaaaa", 0o200), // a complete file's mode
		put("sub/.g"+restore.PartialSuffix+"bbbbbbbbbbbbbbbb", 0o644),   // the user's
	}
	os.Mkdir(filepath.Join(dst, ".f"+restore.PartialSuffix+"cccccccccccccccc"), 0o700)
	kept = append(kept, filepath.Join(dst, ".f"+restore.PartialSuffix+"cccccccccccccccc"))
	if err := os.Symlink("f", filepath.Join(dst, ".f"+restore.PartialSuffix+"dddddddddddddddd")); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, filepath.Join(dst, ".f"+restore.PartialSuffix+"dddddddddddddddd"))
	link := put("linked", 0o200)
	if err := os.Link(link, filepath.Join(dst, ".f"+restore.PartialSuffix+"eeeeeeeeeeeeeeee")); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, filepath.Join(dst, ".f"+restore.PartialSuffix+"eeeeeeeeeeeeeeee")) // another name of a file

	// Another restore into the same target, still writing this one.
	busy := put(".f"+restore.PartialSuffix+"1111111111111111", 0o200)
	soon := time.Now().Add(time.Hour)
	if err := os.Chtimes(busy, soon, soon); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, busy)

	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Exclude: []string{"skipped"}}
	opt.DryRun = true
	if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(gone[0]); err != nil {
		t.Fatalf("a dry run removed %s: %v", gone[0], err)
	}
	opt.DryRun = false
	if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s: the temporary a killed restore left is still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s, not a temporary of a file restored there, was removed: %v", p, err)
		}
	}
	// A folder restored only on the way to what --include selects.
	again := put("sub/deep/.h"+restore.PartialSuffix+"9999999999999999", 0o200)
	opt.Include = []string{"h"}
	if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(again); err == nil {
		t.Errorf("%s: the temporary a killed restore left is still there after a restore of --include h", again)
	}
	for _, p := range []string{"f", "sub/g", "sub/deep/h"} {
		if b, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(b) != "content of "+p {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
}
