package restore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A folder in the target where another filesystem is mounted (a USB disk
// on /mnt/usb, restoring with --target / --delete) that the snapshot
// lacks, or where the snapshot has a file (or below such a folder), was
// emptied: everything on the
// other filesystem was deleted, and only the mount point itself failed
// (EBUSY). Now nothing on it is touched, and an error says why.
func TestMountPointInTheTargetIsNotEmptied(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root: this test mounts a tmpfs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d", "f"), []byte("a file"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "d", "h"), []byte("a file"), 0o644))
	must(t, os.MkdirAll(filepath.Join(src, "e"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "e", "g"), []byte("a file"), 0o644))
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.Always} {
		for _, dry := range []bool{false, true} {
			dst := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(dst, "e", "usb"), 0o755))
			must(t, os.MkdirAll(filepath.Join(dst, "d", "f"), 0o755))
			must(t, os.MkdirAll(filepath.Join(dst, "d", "h", "deep"), 0o755))
			var precious []string
			for _, mnt := range []string{filepath.Join(dst, "e", "usb"), filepath.Join(dst, "d", "f"), filepath.Join(dst, "d", "h", "deep")} {
				if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
					t.Fatalf("mount tmpfs: %v %s", err, out)
				}
				t.Cleanup(func() { exec.Command("umount", mnt).Run() })
				p := filepath.Join(mnt, "precious")
				must(t, os.WriteFile(p, []byte("on another filesystem"), 0o644))
				precious = append(precious, p)
			}
			var mu sync.Mutex
			var warned []string
			said := map[string]string{}
			opt := restore.Options{Target: dst, Delete: true, Overwrite: ow, DryRun: dry, Workers: 2,
				Warn: func(p string, err error) {
					mu.Lock()
					defer mu.Unlock()
					if errors.Is(err, restore.ErrMountPoint) {
						warned = append(warned, p)
						rel, _ := filepath.Rel(dst, p)
						said[rel] = err.Error()
					}
				}}
			restore.Run(context.Background(), r, res.Snapshot, src, opt)
			for _, p := range precious {
				if _, err := os.Lstat(p); err != nil {
					t.Errorf("overwrite %v, dry run %v: %s was deleted: %v", ow, dry, p, err)
				}
			}
			if len(warned) != 3 {
				t.Errorf("overwrite %v, dry run %v: mount points reported: %q, want all 3", ow, dry, warned)
			}
			// Each in its own words: e/usb is not deleted, d/f (where
			// the snapshot has a file) and d/h (a mount below it) are
			// not replaced. d/h said both "mounted below it" and
			// "mounted here: not deleted"; d/f, "not deleted" without
			// --delete being the cause.
			for rel, want := range map[string]string{"e/usb": "mounted here: not deleted", "d/f": "mounted on it: not replaced", "d/h": "mounted below it: not replaced"} {
				msg := said[rel]
				if !strings.Contains(msg, want) || strings.Count(msg, "mounted") != 1 {
					t.Errorf("overwrite %v, dry run %v: %s: %q, want it to say %q, once", ow, dry, rel, msg, want)
				}
			}
		}
	}
}
