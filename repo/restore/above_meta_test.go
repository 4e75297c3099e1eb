package restore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// TestAboveFoldersKeepTheirMetadata: restoring a snapshot of a folder
// (here src/d, as /home/alice) in place, with --target / or any target
// holding the path, leaves the folders above it that are already there as
// they are, as the restore help promises: a private target (0700) was made
// 0755 with the mode, owner and times of / at ingest time, and /, /home
// got theirs back. The folder itself still gets its own; folders above
// that the restore creates get the snapshot's.
func TestAboveFoldersKeepTheirMetadata(t *testing.T) {
	f := newSmallTree(t)
	res, err := ingest.Run(context.Background(), f.r, ingest.Options{Paths: []string{filepath.Join(f.src, "d")}, Host: "h", Source: "d"})
	if err != nil {
		t.Fatal(err)
	}
	for _, dryRun := range []bool{false, true} {
		dst := filepath.Join(t.TempDir(), "target")
		base := filepath.Join(dst, f.src)
		must(t, os.MkdirAll(filepath.Join(base, "d"), 0o755))
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		var above []string
		for p := base; ; p = filepath.Dir(p) {
			above = append(above, p)
			must(t, os.Chmod(p, 0o700))
			must(t, os.Chtimes(p, old, old))
			if p == dst {
				break
			}
		}
		var items []string
		_, err := restore.Run(context.Background(), f.r, res.Snapshot, "/", restore.Options{Target: dst, Delete: true, DryRun: dryRun, Workers: 2,
			SkipOwner: os.Geteuid() != 0, Item: func(p string, a restore.Action, _ uint64) {
				if a == restore.Restored {
					items = append(items, p)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range above {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 || !fi.ModTime().Equal(old) {
				t.Errorf("dry run %v: %s, above the snapshot's path, became %v %v; want it left 0700 %v", dryRun, p, fi.Mode().Perm(), fi.ModTime(), old)
			}
			for _, it := range items {
				if it == p {
					t.Errorf("dry run %v: %s, above the snapshot's path, listed as restored", dryRun, p)
				}
			}
		}
		if !dryRun {
			fi, err := os.Stat(filepath.Join(base, "d"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 || !fi.ModTime().Equal(treeTime) {
				t.Errorf("the snapshot's folder got %v %v, want 0755 %v", fi.Mode().Perm(), fi.ModTime(), treeTime)
			}
		}
	}
}

// TestAboveFoldersKeepTheirDefaultACL: the restore drops the default ACL
// of a folder it restores into (what it restores must not inherit it),
// and gave a folder above the snapshot's paths the snapshot's metadata
// after. Now that such a folder is left as it is, its default ACL is put
// back once the restore is done, and what was restored still inherits
// none of it.
func TestAboveFoldersKeepTheirDefaultACL(t *testing.T) {
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if _, err := exec.LookPath("setfacl"); err != nil {
		skip("setfacl is not installed")
	}
	f := newSmallTree(t)
	res, err := ingest.Run(context.Background(), f.r, ingest.Options{Paths: []string{filepath.Join(f.src, "d")}, Host: "h", Source: "d"})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "target")
	base := filepath.Join(dst, f.src)
	must(t, os.MkdirAll(base, 0o755))
	want := map[string][]byte{}
	for _, p := range []string{dst, base} {
		if out, err := exec.Command("setfacl", "-d", "-m", "u:999:rwx", p).CombinedOutput(); err != nil {
			skip("setfacl: %v %s", err, out)
		}
		acl, err := getxattr(p, "system.posix_acl_default")
		if err != nil {
			t.Fatal(err)
		}
		want[p] = acl
	}
	if _, err := restore.Run(context.Background(), f.r, res.Snapshot, "/", restore.Options{Target: dst, Workers: 2,
		Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) }}); err != nil {
		t.Fatal(err)
	}
	for p, acl := range want {
		got, err := getxattr(p, "system.posix_acl_default")
		if err != nil || !bytes.Equal(got, acl) {
			t.Errorf("%s, above the snapshot's path, has default ACL %x (%v), want its own %x back", p, got, err, acl)
		}
	}
	for _, p := range []string{filepath.Join(base, "d"), filepath.Join(base, "d", "c.txt")} {
		if _, err := unix.Lgetxattr(p, "system.posix_acl_access", nil); !errors.Is(err, unix.ENODATA) {
			t.Errorf("%s inherited an ACL from the folder above (%v)", p, err)
		}
	}
}

func getxattr(p, name string) ([]byte, error) {
	buf := make([]byte, 4096)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
