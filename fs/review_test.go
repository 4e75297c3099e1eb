package fs_test

// Review tests: each shows one defect a review found, fixed since, and keeps
// it fixed.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
)

type countingBackend struct {
	backends.Backend
	trees atomic.Int64
}

func (c *countingBackend) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if strings.HasPrefix(name, "tree/") {
		c.trees.Add(1)
	}
	return c.Backend.Load(ctx, name, off, n)
}

// TestReviewListingSnapshotsLoadsNoTree: `ls snapshots/` is answered with
// READDIRPLUS, and rawFS.ReadDirPlus looks every entry up, which loads
// the root trees of every snapshot listed (vdirNode.Lookup -> rootNode).
// The issue wants "a tree is loaded only when entered"; with a hanging
// backend the listing takes one ReadTimeout per snapshot.
func TestReviewListingSnapshotsLoadsNoTree(t *testing.T) {
	requireFUSE(t)
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	cb := &countingBackend{Backend: be}
	r := repo.TestRepositoryOn(t, cb)
	src := t.TempDir()
	for i := range 3 {
		os.WriteFile(filepath.Join(src, "f"), []byte(fmt.Sprint(i)), 0o644)
		ingestPath(t, r, src)
	}
	mnt, _ := mount(t, r, cfs.Options{})
	before := cb.trees.Load()
	ents, err := os.ReadDir(filepath.Join(mnt, "snapshots"))
	if err != nil || len(ents) != 3 {
		t.Fatalf("snapshots/: %v %v", ents, err)
	}
	if n := cb.trees.Load() - before; n != 0 {
		t.Errorf("listing snapshots/ (no snapshot entered) read %d tree packs", n)
	}
}

// TestReviewConcurrentListings: two concurrent READDIRPLUS of one folder
// both look up each subfolder. dirNode.Lookup stores its new dirNode in
// f.dirs (LoadOrStore) before the bridge picks one; when the bridge keeps
// the other caller's node, f.dirs and the bridge disagree: READDIR then
// lists from a node with another inode base (d_ino != st_ino) and a ".."
// pointing at itself, and the extra node is never dropped from f.dirs.
func TestReviewConcurrentListings(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	for i := range 300 {
		d := filepath.Join(src, fmt.Sprintf("d%03d", i))
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644)
	}
	r, _ := localRepo(t)
	for range 10 {
		ingestPath(t, r, src)
	}
	mnt, _ := mount(t, r, cfs.Options{})
	// Several views of each snapshot, each with fresh inodes.
	var views []string
	for _, top := range []string{"snapshots", "ids", "hosts/h/s"} {
		ents, _ := os.ReadDir(filepath.Join(mnt, top))
		for _, e := range ents {
			if e.Name() != "latest" {
				views = append(views, filepath.Join(mnt, top, e.Name()))
			}
		}
	}
	bad := 0
	for _, v := range views {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				os.ReadDir(v)
			}()
		}
		close(start)
		wg.Wait()
		vst := lstatRetry(v)
		for i := range 300 {
			sub := filepath.Join(v, fmt.Sprintf("d%03d", i))
			ents := getdents(t, sub)
			fst := lstatRetry(filepath.Join(sub, "f"))
			if ents[".."] != vst.Ino || ents["f"] != fst.Ino {
				bad++
				if bad < 5 {
					t.Errorf("%s: readdir says ..=%d f=%d, stat says ..=%d f=%d", sub, ents[".."], ents["f"], vst.Ino, fst.Ino)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d folders list inode numbers that stat does not give", bad)
	}
}

// lstatRetry is unix.Lstat tried again on EINTR (see getdents).
func lstatRetry(p string) unix.Stat_t {
	var st unix.Stat_t
	for unix.Lstat(p, &st) == unix.EINTR {
	}
	return st
}

func getdents(t *testing.T, dir string) map[string]uint64 {
	fd := openDir(t, dir)
	defer unix.Close(fd)
	out := map[string]uint64{}
	for _, e := range readDirents(t, fd, 8192) {
		out[e.name] = e.ino
	}
	return out
}
