package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

// TestCreateWithoutHardLinks plays a repository on exFAT or FAT (a USB
// stick), whose link(2) fails with EPERM: init used to fail there with
// "create config: link ...: operation not permitted".
func TestCreateWithoutHardLinks(t *testing.T) {
	for _, noRenameFlag := range []bool{false, true} {
		t.Run(map[bool]string{false: "renameat2", true: "exclusive"}[noRenameFlag], func(t *testing.T) {
			oldLink, oldRename := linkFile, renameNoReplace
			t.Cleanup(func() { linkFile, renameNoReplace = oldLink, oldRename })
			linkFile = func(from, to string) error {
				return &os.LinkError{Op: "link", Old: from, New: to, Err: syscall.EPERM}
			}
			if noRenameFlag {
				renameNoReplace = func(from, to string) error { return syscall.EINVAL }
			}
			dir := t.TempDir()
			l, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := l.Create(ctx, "config", []byte("one")); err != nil {
				t.Fatalf("create on a file system without hard links: %v", err)
			}
			err = l.Create(ctx, "config", []byte("two"))
			if !errors.Is(err, backends.ErrExists) {
				t.Fatalf("second create = %v, want ErrExists", err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "config"))
			if err != nil || !bytes.Equal(got, []byte("one")) {
				t.Fatalf("config = %q, %v; want \"one\"", got, err)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tempPrefix) {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
}
