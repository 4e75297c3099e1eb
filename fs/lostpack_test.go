package fs_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A large file whose pack is lost: rsync reads on past the first error,
// and every chunk of the pack it reads fails with EIO. The mount's log
// named the file once per chunk, as many lines as the pack held chunks of
// it; it now names the file and the pack once, with the first chunk.
func TestLostPackLoggedOncePerFile(t *testing.T) {
	requireFUSE(t)
	requireRsync(t)
	src := t.TempDir()
	big := make([]byte, 24<<20)
	rand.NewChaCha8([32]byte{7}).Read(big)
	os.WriteFile(filepath.Join(src, "big"), big, 0o644)
	r, dir := localRepo(t)
	sn := ingestPath(t, r, src)
	n, _, err := restore.Find(context.Background(), r, sn, filepath.Join(src, "big"))
	if err != nil {
		t.Fatal(err)
	}
	// Remove the pack holding the most of big's chunks.
	per := map[id.ID]int{}
	var pack id.ID
	for _, c := range n.Content {
		loc, ok, err := r.LookupBlob(c.ID)
		if err != nil || !ok {
			t.Fatalf("lookup: %v %v", ok, err)
		}
		if per[loc.Pack]++; per[loc.Pack] > per[pack] {
			pack = loc.Pack
		}
	}
	if per[pack] < 2 {
		t.Fatalf("no pack holds two chunks of big (%d chunks in %d packs): the test needs one", len(n.Content), len(per))
	}
	name := repo.PackName(id.DataBlob, pack)
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
		t.Fatal(err)
	}

	mnt, logs := mount(t, r, cfs.Options{})
	out, err := exec.Command("rsync", "-a", filepath.Join(mnt, "latest", "big"), t.TempDir()).CombinedOutput()
	if err == nil {
		t.Fatalf("rsync of a file whose pack is lost succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "Input/output error") {
		t.Errorf("rsync should see EIO:\n%s", out)
	}
	// Every chunk of the pack fails, each time it is read.
	f, err := os.Open(filepath.Join(mnt, "latest", "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := int64(0)
	failed := 0
	for _, c := range n.Content {
		if loc, _, _ := r.LookupBlob(c.ID); loc.Pack == pack {
			if _, err := f.ReadAt(make([]byte, 4096), off); !errors.Is(err, syscall.EIO) {
				t.Fatalf("read at %d, in the lost pack: %v, want EIO", off, err)
			}
			failed++
		}
		off += int64(c.Size)
	}
	l := strings.TrimSpace(logs.String())
	if strings.Count(l, "\n") != 0 || !strings.Contains(l, "/big") || !strings.Contains(l, name) || !strings.Contains(l, sn.ID.Short()) {
		t.Fatalf("after %d failed reads, the log should be one line naming the file, the snapshot %s and the pack %s:\n%s", failed, sn.ID.Short(), name, l)
	}
}
