package restore_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// needTools fails (CI=true) or skips without the given programs.
func needTools(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("this test needs %s", tool)
			}
			t.Skipf("needs %s", tool)
		}
	}
}

// TestRestoreCaseInsensitiveTarget restores "Case" and "case" onto an
// exFAT filesystem (as on a USB stick), which takes one name for the
// other. The second must not replace the first, nor be silently "kept" as
// if it were an older copy of itself: it is an error naming it, and the
// first keeps its content.
func TestRestoreCaseInsensitiveTarget(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.exfat", "mount.exfat-fuse", "losetup", "umount")
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, body := range map[string]string{"Case": "upper, old\n", "case": "lower, new\n"} {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "Case" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}

	mnt := exfatMount(t, dir, 16<<20)

	// Fresh, then again over what the first left.
	for i := 1; i <= 2; i++ {
		var warned []string
		opt := restore.Options{Target: mnt, Warn: func(p string, err error) {
			warned = append(warned, filepath.Base(p)+": "+err.Error())
		}}
		if _, err := restore.Run(ctx, r, res.Snapshot, src, opt); err == nil {
			t.Errorf("restore %d: no error", i)
		}
		if len(warned) != 1 || !strings.HasPrefix(warned[0], "case: ") || !strings.Contains(warned[0], "ignores case") {
			t.Errorf("restore %d: warnings %q, want one for case, naming the collision", i, warned)
		}
		b, err := os.ReadFile(filepath.Join(mnt, "Case"))
		if err != nil || string(b) != "upper, old\n" {
			t.Errorf("restore %d: Case holds %q (%v), want its own content", i, b, err)
		}
	}
}

// TestRestoreCaseInsensitiveTargetLargeFile: a new file of 16 MiB or more
// is written under a temporary name; its name must still be taken when the
// walk comes to it, so that "case" after a large "Case" is the same error
// as after a small one, not written beside it and then replaced by (or
// replacing) it when the large one is renamed into place.
func TestRestoreCaseInsensitiveTargetLargeFile(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.exfat", "mount.exfat-fuse", "losetup", "umount")
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 17<<20)
	for i := range big {
		big[i] = byte(i * 7 >> 9)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, body := range map[string][]byte{"Case": big, "case": []byte("lower, new\n")} {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "Case" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	mnt := exfatMount(t, dir, 64<<20)

	var warned []string
	opt := restore.Options{Target: mnt, Warn: func(p string, err error) {
		warned = append(warned, filepath.Base(p)+": "+err.Error())
	}}
	if _, err := restore.Run(ctx, r, res.Snapshot, src, opt); err == nil {
		t.Error("no error")
	}
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "case: ") || !strings.Contains(warned[0], "ignores case") {
		t.Errorf("warnings %q, want one for case, naming the collision", warned)
	}
	b, err := os.ReadFile(filepath.Join(mnt, "Case"))
	if err != nil || !bytes.Equal(b, big) {
		t.Errorf("Case holds %d bytes (%v), want its own %d", len(b), err, len(big))
	}
	left, _ := filepath.Glob(filepath.Join(mnt, ".*"+restore.PartialSuffix+"*"))
	if len(left) > 0 {
		t.Errorf("temporaries left: %v", left)
	}
}

// exfatMount makes an exFAT image of size bytes in dir and mounts it (with
// the FUSE driver: this kernel has none) at dir/mnt, for the test's
// lifetime.
func exfatMount(t *testing.T, dir string, size int64) string {
	t.Helper()
	img := filepath.Join(dir, "exfat.img")
	mnt := filepath.Join(dir, "mnt")
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	run("mkfs.exfat", img)
	loop := run("losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	run("mount.exfat-fuse", loop, mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}
