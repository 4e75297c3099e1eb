package restore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A symlink in the target where the snapshot has a folder above its paths
// (/home -> /data/home with --target /, restoring a snapshot of
// /home/alice) was silently replaced by a real folder holding only what
// was restored. One that leads to a folder inside the target is followed,
// as restic and rsync -K do (also by --delete); any other is replaced,
// and a notice says so. Nothing is written outside the target.
func TestSymlinkAboveThePaths(t *testing.T) {
	bctx := context.Background()
	r, res, top, rest := oneFileSnapshot(t)

	// Leading inside the target: followed.
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "data"), 0o755)
	if err := os.Symlink("data", filepath.Join(dst, top)); err != nil {
		t.Fatal(err)
	}
	var notices []string
	var mu sync.Mutex
	notice := func(p, msg string) { mu.Lock(); notices = append(notices, p+": "+msg); mu.Unlock() }
	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Notice: notice}
	if _, err := restore.Run(bctx, r, res.Snapshot, "/", opt); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dst, top)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s: the symlink leading inside the target was replaced: %v %v", top, fi.Mode(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "data", rest, "f")); err != nil || string(b) != "data" {
		t.Errorf("not restored through the symlink: %q %v", b, err)
	}
	if len(notices) != 0 {
		t.Errorf("notices: %q", notices)
	}
	// --delete goes through it too.
	extra := filepath.Join(dst, "data", rest, "extra")
	os.WriteFile(extra, nil, 0o644)
	opt.Delete = true
	if _, err := restore.Run(bctx, r, res.Snapshot, "/", opt); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(extra); err == nil {
		t.Errorf("--delete kept %s, beyond the followed symlink", extra)
	}

	// Leading outside the target, or nowhere: replaced, and said.
	outside := t.TempDir()
	for _, to := range []string{outside, "../" + filepath.Base(outside), "nowhere"} {
		dst := filepath.Join(t.TempDir(), "t")
		os.MkdirAll(dst, 0o755)
		if err := os.Symlink(to, filepath.Join(dst, top)); err != nil {
			t.Fatal(err)
		}
		notices = nil
		opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Notice: notice}
		if _, err := restore.Run(bctx, r, res.Snapshot, "/", opt); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(filepath.Join(dst, top)); err != nil || !fi.IsDir() {
			t.Errorf("symlink to %s: not replaced by a folder: %v", to, err)
		}
		if b, err := os.ReadFile(filepath.Join(dst, top, rest, "f")); err != nil || string(b) != "data" {
			t.Errorf("symlink to %s: not restored: %q %v", to, b, err)
		}
		if len(notices) != 1 || !strings.Contains(notices[0], restore.AboveLinkReplaced+", that leads to no folder inside the target") {
			t.Errorf("symlink to %s: notices %q", to, notices)
		}
		if names, _ := os.ReadDir(outside); len(names) != 0 {
			t.Fatalf("symlink to %s: written outside the target: %v", to, names)
		}
	}

	// --overwrite never keeps it: an error, not a notice that it was
	// replaced.
	dst = filepath.Join(t.TempDir(), "t")
	os.MkdirAll(dst, 0o755)
	if err := os.Symlink(outside, filepath.Join(dst, top)); err != nil {
		t.Fatal(err)
	}
	notices = nil
	var warned []string
	var wmu sync.Mutex
	opt = restore.Options{Target: dst, Workers: 2, SkipOwner: true, Notice: notice, Overwrite: restore.Never,
		Warn: func(p string, err error) { wmu.Lock(); warned = append(warned, err.Error()); wmu.Unlock() }}
	if _, err := restore.Run(bctx, r, res.Snapshot, "/", opt); !errors.Is(err, restore.ErrIncomplete) {
		t.Errorf("--overwrite never, a symlink leading outside in the way: %v", err)
	}
	// The error says what is there, as ls shows it, and what it costs:
	// it said "exists and is not a directory" of a symlink to a folder.
	if len(warned) != 1 || !strings.Contains(warned[0], "is a symlink where the snapshot has a directory") || !strings.Contains(warned[0], "nothing restored into it") {
		t.Errorf("--overwrite never: errors %q", warned)
	}
	if fi, err := os.Lstat(filepath.Join(dst, top)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("--overwrite never replaced the symlink")
	}
	if len(notices) != 0 {
		t.Errorf("--overwrite never: notices %q", notices)
	}
	if names, _ := os.ReadDir(outside); len(names) != 0 {
		t.Fatalf("--overwrite never: written outside the target: %v", names)
	}
}

// The folder a symlink above the paths leads to is left as it is, as the
// folder would be: the default ACL the restore drops while it restores
// into it is put back (it was put back to the symlink, which has none,
// and the folder kept none).
func TestFollowedSymlinkAboveKeepsDefaultACL(t *testing.T) {
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if _, err := exec.LookPath("setfacl"); err != nil {
		skip("setfacl is not installed")
	}
	bctx := context.Background()
	r, res, top, _ := oneFileSnapshot(t)
	dst := t.TempDir()
	data := filepath.Join(dst, "data")
	os.MkdirAll(data, 0o755)
	if err := os.Symlink("data", filepath.Join(dst, top)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("setfacl", "-d", "-m", "u:999:rwx", data).CombinedOutput(); err != nil {
		skip("setfacl: %v %s", err, out)
	}
	want, err := getxattr(data, "system.posix_acl_default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(bctx, r, res.Snapshot, "/", restore.Options{Target: dst, Workers: 2,
		Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) }}); err != nil {
		t.Fatal(err)
	}
	if got, err := getxattr(data, "system.posix_acl_default"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s, reached through a symlink above the paths, has default ACL %x (%v), want its own %x back", data, got, err, want)
	}
}

// --delete went through a followed symlink above the paths by opening the
// folder it led to by its absolute path, following any symlink on the
// way: a folder on that way replaced by a symlink to elsewhere once the
// files were restored (here from the last progress report, after the
// walk and before the delete pass) had --delete remove files outside the
// target. It must reach the folder from the target, as every other step
// of --delete does, through no symlink.
func TestDeleteThroughFollowedSymlinkStaysInTarget(t *testing.T) {
	bctx := context.Background()
	r, res, top, rest := oneFileSnapshot(t)
	dst := t.TempDir()
	// <top> -> a/b: the followed folder is dst/a/b, reached through a.
	if err := os.MkdirAll(filepath.Join(dst, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b", filepath.Join(dst, top)); err != nil {
		t.Fatal(err)
	}
	// Outside the target, a folder shaped like the one restored, with a
	// file the snapshot lacks.
	outside := t.TempDir()
	victim := filepath.Join(outside, "b", rest, "precious")
	if err := os.MkdirAll(filepath.Dir(victim), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	var swapped sync.Once
	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Delete: true, Interval: time.Hour,
		Progress: func(pr restore.Progress) {
			if !pr.WalkDone {
				return
			}
			swapped.Do(func() {
				a := filepath.Join(dst, "a")
				if err := os.Rename(a, a+".old"); err != nil {
					t.Error(err)
				}
				if err := os.Symlink(outside, a); err != nil {
					t.Error(err)
				}
			})
		}}
	restore.Run(bctx, r, res.Snapshot, "/", opt)
	if b, err := os.ReadFile(filepath.Join(dst, "a.old", "b", rest, "f")); err != nil || string(b) != "data" {
		t.Errorf("not restored through the symlink: %q %v", b, err)
	}
	if _, err := os.Lstat(victim); err != nil {
		t.Errorf("--delete removed %s, outside the target: %v", victim, err)
	}
}

// A symlink above the paths that led into another of the snapshot's
// paths (/home -> /srv, for a snapshot of /home/ann and /srv) was
// followed: /home/ann was restored into /srv/ann, which --delete then
// removed as a name the snapshot's /srv lacks: /home/ann was nowhere,
// said only by a failure to set the folder's metadata. Such a symlink is replaced, with
// the notice, as one leading outside the target is.
func TestSymlinkAboveIntoAnotherPathNotFollowed(t *testing.T) {
	bctx := context.Background()
	r := repo.TestRepository(t)
	base := t.TempDir()
	ann := filepath.Join(base, "home", "ann")
	srv := filepath.Join(base, "srv")
	os.MkdirAll(ann, 0o755)
	os.MkdirAll(srv, 0o755)
	if err := os.WriteFile(filepath.Join(ann, "f"), []byte("ann's"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv, "g"), []byte("srv's"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{ann, srv}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	in := filepath.Join(dst, base)
	os.MkdirAll(filepath.Join(in, "srv"), 0o755)
	if err := os.Symlink("srv", filepath.Join(in, "home")); err != nil {
		t.Fatal(err)
	}
	var notices []string
	var mu sync.Mutex
	opt := restore.Options{Target: dst, Workers: 2, SkipOwner: true, Delete: true, Warn: func(p string, err error) { t.Logf("warning %s: %v", p, err) },
		Notice: func(p, msg string) { mu.Lock(); notices = append(notices, p+": "+msg); mu.Unlock() }}
	if _, err := restore.Run(bctx, r, res.Snapshot, "/", opt); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(in, "home", "ann", "f")); err != nil || string(b) != "ann's" {
		t.Errorf("home/ann/f: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(in, "srv", "g")); err != nil || string(b) != "srv's" {
		t.Errorf("srv/g: %q %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(in, "home")); err != nil || !fi.IsDir() {
		t.Errorf("home: the symlink into srv was kept: %v", err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], restore.AboveLinkReplaced) {
		t.Errorf("notices %q", notices)
	}
	// The notice says why: srv is a folder inside the target, so "leads
	// to no folder inside the target", as it said, was not true.
	if len(notices) == 1 && (!strings.Contains(notices[0], "leads into another of the snapshot's paths") || strings.Contains(notices[0], "no folder inside the target")) {
		t.Errorf("the notice does not say the symlink leads into another path: %q", notices[0])
	}
}
