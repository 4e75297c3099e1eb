package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore run again over its own result reported every name of a
// hardlink group as unchanged, but with the default if-changed counted
// all but the first as links restored ("0 files, 1 link; 1 kept"), where
// if-newer and never counted them kept and added their sizes to the
// bytes kept: the summary said a link was made where nothing was, and its
// totals depended on the policy. A name kept is counted kept, under every
// policy, and a link's bytes are not counted twice.
func TestRerunCountsLinkedNamesKept(t *testing.T) {
	bctx := context.Background()
	r := repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	const content = "linked content\n"
	if err := os.WriteFile(filepath.Join(src, "a"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "sub", "b")); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true,
		Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) }}
	if _, err := restore.Run(bctx, r, res.Snapshot, src, opt); err != nil {
		t.Fatal(err)
	}
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.IfNewer, restore.Never} {
		for _, dry := range []bool{true, false} {
			items := map[string]restore.Action{}
			opt.Overwrite, opt.DryRun = ow, dry
			opt.Item = func(p string, a restore.Action, size uint64) {
				if rel, _ := filepath.Rel(dst, p); rel == "a" || rel == "sub/b" {
					items[rel] = a
				}
			}
			st, err := restore.Run(bctx, r, res.Snapshot, src, opt)
			if err != nil {
				t.Fatal(err)
			}
			if items["a"] != restore.Unchanged || items["sub/b"] != restore.Unchanged {
				t.Errorf("overwrite %d, dry run %v: reported %v, want both unchanged", ow, dry, items)
			}
			if st.Files != 0 || st.Links != 0 || st.Skipped != 2 || st.SkippedBytes != int64(len(content)) {
				t.Errorf("overwrite %d, dry run %v: %d files, %d links, %d kept (%d B); want 0, 0, 2 kept (%d B)",
					ow, dry, st.Files, st.Links, st.Skipped, st.SkippedBytes, len(content))
			}
		}
	}
	for _, p := range []string{"a", "sub/b"} {
		if b, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(b) != content {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
}
