package restore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A restore into folders that exist already gives them the snapshot's
// attributes and nothing else: an ACL or xattr they had is gone, and no
// restored entry inherits their default ACL.
func TestExistingDirsKeepNoForeignACL(t *testing.T) {
	// Under CI, make test has installed setfacl on a filesystem with
	// ACLs and user xattrs: a missing one fails the test there.
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if _, err := exec.LookPath("setfacl"); err != nil {
		skip("setfacl is not installed")
	}
	f := newPartialFixture(t)
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.Always, restore.Never} {
		dst := t.TempDir()
		sub := filepath.Join(dst, "sub")
		os.Mkdir(sub, 0o755)
		for _, args := range [][]string{{"-d", "-m", "u:999:rwx", dst}, {"-d", "-m", "u:999:rwx", sub}, {"-m", "u:998:rwx", sub}} {
			if out, err := exec.Command("setfacl", args...).CombinedOutput(); err != nil {
				skip("setfacl %v: %v %s", args, err, out)
			}
		}
		if err := unix.Setxattr(sub, "user.stale", []byte("x"), 0); err != nil {
			skip("user xattrs: %v", err)
		}
		_, err := restore.Run(context.Background(), f.r, f.sn, f.src, restore.Options{Target: dst, Workers: 2, Overwrite: ow, SkipOwner: true,
			Warn: func(p string, err error) { t.Errorf("warning %s: %v", p, err) }})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ path, attr string }{
			{dst, "system.posix_acl_default"},
			{sub, "system.posix_acl_default"},
			{sub, "system.posix_acl_access"},
			{sub, "user.stale"},
			{filepath.Join(dst, "big.dat"), "system.posix_acl_access"},
			{filepath.Join(dst, "small0.txt"), "system.posix_acl_access"},
			{filepath.Join(sub, "big-link.dat"), "system.posix_acl_access"},
		} {
			if _, err := unix.Lgetxattr(c.path, c.attr, nil); !errors.Is(err, unix.ENODATA) {
				t.Errorf("overwrite %d: %s has %s, which the snapshot does not give it (%v)", ow, c.path, c.attr, err)
			}
		}
	}
}
