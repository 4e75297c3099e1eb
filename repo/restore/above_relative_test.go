package restore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A symlink above the snapshot's paths that leads to a folder inside the
// target was replaced by a folder when the target was given as a relative
// path (an absolute symlink) or as "." (a relative one); and with the
// target reached through a symlink, --delete went through no followed
// symlink: it deleted nothing and said nothing.
func TestSymlinkAboveTheTargetSpelling(t *testing.T) {
	bctx := context.Background()
	r, res, top, rest := oneFileSnapshot(t)

	for _, tc := range []struct {
		name   string
		absLnk bool   // the symlink's value absolute
		target string // as given, from the folder the test is in
		linked bool   // the target a symlink to the real folder
	}{
		{"relative target, absolute symlink", true, "t", false},
		{"dot target, relative symlink", false, ".", false},
		{"dot target, absolute symlink", true, ".", false},
		{"symlinked target", false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			real := filepath.Join(base, "t")
			if tc.linked {
				real = filepath.Join(base, "real")
			}
			os.MkdirAll(filepath.Join(real, "data"), 0o755)
			to := "data"
			if tc.absLnk {
				to = filepath.Join(real, "data")
			}
			if err := os.Symlink(to, filepath.Join(real, top)); err != nil {
				t.Fatal(err)
			}
			target := tc.target
			switch {
			case tc.linked:
				target = filepath.Join(base, "t")
				if err := os.Symlink("real", target); err != nil {
					t.Fatal(err)
				}
			case target == ".":
				t.Chdir(real)
			default:
				t.Chdir(base)
			}
			var notices []string
			opt := restore.Options{Target: target, Workers: 2, SkipOwner: true,
				Notice: func(p, msg string) { notices = append(notices, p+": "+msg) }}
			if _, err := restore.Run(bctx, r, res.Snapshot, "/", opt); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(filepath.Join(real, top)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s: the symlink leading inside the target was replaced: %v", top, err)
			}
			if b, err := os.ReadFile(filepath.Join(real, "data", rest, "f")); err != nil || string(b) != "data" {
				t.Errorf("not restored through the symlink: %q %v", b, err)
			}
			if len(notices) != 0 {
				t.Errorf("notices: %q", notices)
			}
			extra := filepath.Join(real, "data", rest, "extra")
			os.WriteFile(extra, nil, 0o644)
			opt.Delete = true
			st, err := restore.Run(bctx, r, res.Snapshot, "/", opt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(extra); err == nil {
				t.Errorf("--delete kept %s, beyond the followed symlink (%d deleted)", extra, st.Deleted)
			}
		})
	}
}

// oneFileSnapshot ingests a folder holding one file f into a new test
// repository: the repository, the ingest's result, and the folder's path
// split into its first element (top) and the rest of it below.
func oneFileSnapshot(t *testing.T) (r *repo.Repository, res *ingest.Result, top, rest string) {
	t.Helper()
	r = repo.TestRepository(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	top, rest, _ = strings.Cut(strings.TrimPrefix(src, "/"), "/")
	return r, res, top, rest
}
