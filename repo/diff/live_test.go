package diff_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// withoutDAC runs fn with the permission checks an unprivileged user
// meets: as root, on a thread whose filesystem uid is nobody's (which
// drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH for it).
func withoutDAC(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		fn()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Setfsuid(65534); err != nil {
		t.Skipf("setfsuid: %v", err)
	}
	defer unix.Setfsuid(0)
	fn()
}

// A live folder that cannot be listed, or whose entries cannot be
// stat'ed, is warned about and left out: what the snapshot holds there
// is not reported as removed.
func TestLiveUnreadable(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	for _, d := range []string{src, filepath.Dir(src)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(src, "keep.txt"), "k")
	write(t, filepath.Join(src, "locked/x.txt"), "x")
	write(t, filepath.Join(src, "locked/y.txt"), "y")
	write(t, filepath.Join(src, "nosearch/z.txt"), "z")
	sn := snap(t, r, src)
	if err := os.Chmod(filepath.Join(src, "locked"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "nosearch"), 0o744); err != nil {
		t.Fatal(err)
	}
	// Owned by root: only readable to root, listable but not searchable
	// for others. As an unprivileged owner, take the bits away instead.
	if os.Geteuid() != 0 {
		os.Chmod(filepath.Join(src, "locked"), 0)
		os.Chmod(filepath.Join(src, "nosearch"), 0o400)
	}
	defer os.Chmod(filepath.Join(src, "locked"), 0o755)
	defer os.Chmod(filepath.Join(src, "nosearch"), 0o755)

	var c collector
	var warned []string
	opt := diff.Options{Warn: func(p string, err error) { warned = append(warned, p) }}
	var err error
	withoutDAC(t, func() {
		_, err = diff.Live(ctx, r, sn, src, src, opt, c.emit)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.lines) != 0 {
		t.Errorf("unreadable paths reported as changes: %v", c.lines)
	}
	want := []string{filepath.Join(src, "locked"), filepath.Join(src, "nosearch/z.txt")}
	if strings.Join(warned, "\n") != strings.Join(want, "\n") {
		t.Errorf("warned %q, want %q", warned, want)
	}

	// Without Warn the first unreadable path stops the comparison.
	withoutDAC(t, func() {
		_, err = diff.Live(ctx, r, sn, src, src, diff.Options{}, nil)
	})
	if err == nil {
		t.Errorf("unreadable folder without Warn: no error")
	}
}

// Compared with a live folder above the ingested paths, only the way down
// to them is the snapshot's: the live folder's other entries are not
// added. Excludes apply below each ingested path, as ingest applied them.
func TestLiveAboveIngestedPaths(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "a/f.txt"), "f")
	write(t, filepath.Join(src, "b/g.txt"), "not ingested")
	write(t, filepath.Join(src, "keep/x.txt"), "x")
	write(t, filepath.Join(src, "keep/x.tmp"), "excluded")
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src + "/a", src + "/keep"}, Host: "h", Source: "s",
		Excludes: []string{"keep", "*.tmp"}})
	if err != nil {
		t.Fatal(err)
	}
	sn := res.Snapshot

	var c collector
	if _, err := diff.Live(ctx, r, sn, src, src, diff.Options{}, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.lines) != 0 {
		t.Errorf("unchanged ingested paths: %v", c.lines)
	}

	write(t, filepath.Join(src, "a/new.txt"), "n")
	write(t, filepath.Join(src, "keep/y.tmp"), "excluded")
	c = collector{}
	if _, err := diff.Live(ctx, r, sn, src, src, diff.Options{}, c.emit); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.lines, "\n") != "+ /a/new.txt" {
		t.Errorf("changes %q, want only + /a/new.txt", c.lines)
	}
}

// A tree that cannot be loaded stops the comparison with an error that
// says which folder it is.
func TestMissingTreeSaysWhere(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	var lost id.ID
	lost[0] = 1
	a, err := s.SaveTree([]*tree.Node{{Name: "docs", Kind: tree.KindDir, Mode: 0o755, Subtree: lost}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	_, err = diff.Trees(ctx, r, id.Zero, a, nil)
	if err == nil || !strings.Contains(err.Error(), "/docs") || !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("error %v: want one naming /docs, wrapping ErrNotFound", err)
	}
}
