package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A filesystem snapshot mounted at a path that changes every night
// (/snap/2026-11-27/home, then /snap/2026-11-28/home) and recorded with
// SetPath as one path: the snapshot holds the files under SetPath, the
// second night compares with the first and reads nothing again, and
// excludes match the recorded path.
func TestSetPathChangingMountPoint(t *testing.T) {
	r := repo.TestRepository(t)
	top := t.TempDir()
	night1 := filepath.Join(top, "snap", "2026-11-27", "home")
	night2 := filepath.Join(top, "snap", "2026-11-28", "home")
	rec := filepath.Join(top, "rec", "home")
	if err := os.MkdirAll(filepath.Dir(rec), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(night1, "ann", "thesis.tex"), "chapter one")
	write(t, filepath.Join(night1, "ann", "notes"), "notes")
	write(t, filepath.Join(night1, "ann", "skip.tmp"), "scratch")
	opt := ingest.Options{Paths: []string{night1}, SetPath: rec, Host: "h", Source: "home",
		Excludes: []string{rec + "/ann/*.tmp"}}
	s1 := run(t, r, opt).Snapshot
	if !slices.Equal(s1.Paths, []string{rec}) {
		t.Fatalf("paths %v, want [%s]", s1.Paths, rec)
	}
	if got := contentOf(t, r, s1, rec+"/ann/thesis.tex"); got != "chapter one" {
		t.Fatalf("snapshot holds %q", got)
	}
	if got := names(t, r, s1, rec+"/ann"); !slices.Equal(got, []string{"notes", "thesis.tex"}) {
		t.Fatalf("%s/ann holds %v", rec, got)
	}
	if _, _, err := restore.Find(context.Background(), r, s1, filepath.Join(top, "snap")); err == nil {
		t.Fatal("the snapshot holds the folders of the mount point")
	}

	// The next night: the same files, mounted elsewhere.
	if err := os.MkdirAll(filepath.Dir(night2), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(night1, night2); err != nil {
		t.Fatal(err)
	}
	opt.Paths = []string{night2}
	res := run(t, r, opt)
	if s := res.Snapshot.Summary; s.FilesUnchanged != 2 || s.FilesNew+s.FilesChanged != 0 {
		t.Fatalf("summary %+v: both files are unchanged since the last night", s)
	}
	if p := res.Snapshot.Parent; p == nil || *p != s1.ID {
		t.Fatalf("parent %v, want %s", p, s1.ID)
	}
	if got := contentOf(t, r, res.Snapshot, rec+"/ann/notes"); got != "notes" {
		t.Fatalf("snapshot holds %q", got)
	}
}

// SetPath "/" records the folder given as the root of the snapshot (a
// whole system mounted elsewhere to be backed up).
func TestSetPathRoot(t *testing.T) {
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "etc", "hostname"), "web1")
	sn := run(t, r, ingest.Options{Paths: []string{src}, SetPath: "/", Host: "h", Source: "s"}).Snapshot
	if !slices.Equal(sn.Paths, []string{"/"}) {
		t.Fatalf("paths %v", sn.Paths)
	}
	if got := contentOf(t, r, sn, "/etc/hostname"); got != "web1" {
		t.Fatalf("/etc/hostname holds %q", got)
	}
}

func TestSetPathRefused(t *testing.T) {
	r := repo.TestRepository(t)
	a, b := t.TempDir(), t.TempDir()
	for _, c := range []struct {
		opt  ingest.Options
		want string
	}{
		{ingest.Options{Paths: []string{a, b}, SetPath: "/home"}, "exactly one path"},
		{ingest.Options{Paths: []string{a}, SetPath: "home"}, "absolute"},
		{ingest.Options{Paths: []string{a}, SetPath: "/no/such/folder/home"}, "/no/such/folder"},
	} {
		_, err := ingest.Run(context.Background(), r, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", c.opt, err, c.want)
		}
	}
	if n := snapshotCount(t, r); n != 0 {
		t.Fatalf("%d snapshots written", n)
	}
}

// The trees record a device number only where it keys a hardlink group:
// a filesystem snapshot mounted anew on another device (an LVM snapshot,
// a loop image on another loop device) must not change every folder's
// tree, which made --skip-if-unchanged write a snapshot each night.
func TestDeviceOnlyForHardlinks(t *testing.T) {
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "sub", "one"), "one")
	write(t, filepath.Join(src, "two"), "two")
	if err := os.Link(filepath.Join(src, "two"), filepath.Join(src, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	sn := run(t, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}).Snapshot
	err := r.Walk(context.Background(), sn, func(p string, n *tree.Node) (bool, error) {
		if hard := n.Kind != tree.KindDir && n.Links > 1; hard != (n.Dev != 0) {
			t.Errorf("%s (kind %d, %d links) records device %d", p, n.Kind, n.Links, n.Dev)
		}
		return true, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// The snapshot's root folder is a folder like any other: its device
// number is not recorded either. With SetPath "/" it is the device of a
// filesystem snapshot mounted anew each night, and a root that recorded
// it differed from the parent's every night, so SkipIfUnchanged never
// skipped an unchanged system.
func TestRootRecordsNoDevice(t *testing.T) {
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "etc", "hostname"), "web1")
	for _, set := range []string{"", "/"} {
		sn := run(t, r, ingest.Options{Paths: []string{src}, SetPath: set, Host: "h", Source: "s" + set}).Snapshot
		root, err := tree.DecodeNode(sn.Root)
		if err != nil {
			t.Fatal(err)
		}
		if root.Dev != 0 {
			t.Errorf("SetPath %q: the snapshot's root records device %d", set, root.Dev)
		}
	}
}

// A symlink given as the path to read (/snap/latest leading to the
// newest snapshot) is followed: its files are recorded under SetPath.
// It was recorded as SetPath itself, a snapshot holding no file.
func TestSetPathThroughSymlink(t *testing.T) {
	r := repo.TestRepository(t)
	top := t.TempDir()
	write(t, filepath.Join(top, "snap", "2026-11-28", "home", "ann", "notes"), "notes")
	latest := filepath.Join(top, "snap", "latest")
	if err := os.Symlink("2026-11-28/home", latest); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(top, "rec", "home")
	if err := os.MkdirAll(filepath.Dir(rec), 0o755); err != nil {
		t.Fatal(err)
	}
	sn := run(t, r, ingest.Options{Paths: []string{latest}, SetPath: rec, Host: "h", Source: "s"}).Snapshot
	if s := sn.Summary; s.FilesNew != 1 {
		t.Fatalf("summary %+v, want the one file", s)
	}
	if got := contentOf(t, r, sn, rec+"/ann/notes"); got != "notes" {
		t.Fatalf("snapshot holds %q", got)
	}
}
