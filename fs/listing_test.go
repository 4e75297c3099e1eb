package fs_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
)

// dirent is one entry getdents64 gave: its name, inode number and the
// offset telldir would give after it.
type dirent struct {
	name string
	ino  uint64
	off  int64
}

// openDir opens dir for raw getdents calls. Raw system calls on a FUSE
// mount return EINTR when the runtime's preemption signal lands while the
// server answers: it tries again, as package os does.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// readDirents reads fd's entries from its current position to the end
// with getdents64, bufSize bytes at a time, trying again on EINTR (see
// getdents).
func readDirents(t *testing.T, fd int, bufSize int) []dirent {
	t.Helper()
	var out []dirent
	buf := make([]byte, bufSize)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		for b := buf[:n]; len(b) > 0; {
			reclen := int(binary.LittleEndian.Uint16(b[16:]))
			name := b[19:reclen]
			if i := strings.IndexByte(string(name), 0); i >= 0 {
				name = name[:i]
			}
			out = append(out, dirent{string(name), binary.LittleEndian.Uint64(b[0:]), int64(binary.LittleEndian.Uint64(b[8:]))})
			b = b[reclen:]
		}
	}
}

// TestHugeFolderListing: a folder of n entries is listed with O(n) work
// in all, not with the whole listing made again for each READDIR(PLUS)
// request (a few dozen entries each): a 200,000-entry folder took 30 s
// to list that way, a million-entry one would take over ten minutes. The
// listing is whole and in order, and a seek back to any position telldir
// gave lists the same entries from there.
func TestHugeFolderListing(t *testing.T) {
	requireFUSE(t)
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	const n = 20000
	var want []string
	for i := range n {
		name := fmt.Sprintf("entry-%05d-%s", i, strings.Repeat("x", i%40))
		f, err := os.Create(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		want = append(want, name)
	}
	sort.Strings(want)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, _, m := mountM(t, r, cfs.Options{})
	dir, err := filepath.EvalSymlinks(filepath.Join(mnt, "latest"))
	if err != nil {
		t.Fatal(err)
	}

	before := cfs.Listed(m)
	fd := openDir(t, dir)
	defer unix.Close(fd)
	ents := readDirents(t, fd, 32<<10)
	made := cfs.Listed(m) - before
	var got []string
	for _, e := range ents {
		if e.name != "." && e.name != ".." {
			got = append(got, e.name)
		}
	}
	if len(ents) != n+2 || strings.Join(got, "/") != strings.Join(want, "/") {
		t.Fatalf("listed %d entries (%d without . and ..), want %d in name order", len(ents), len(got), n+2)
	}
	// Each request may make one entry that does not fit and comes again
	// in the next: well under twice the folder.
	if made > 2*(n+2) {
		t.Errorf("listing a folder of %d entries made %d entries (%.0f times the folder)", n+2, made, float64(made)/float64(n+2))
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		i := rng.IntN(len(ents) - 1)
		if _, err := unix.Seek(fd, ents[i].off, 0); err != nil {
			t.Fatal(err)
		}
		again := readDirents(t, fd, 1024)
		if len(again) != len(ents)-i-1 || again[0] != ents[i+1] {
			t.Fatalf("after seekdir to the position after %q: %d entries from %+v; want %d from %+v",
				ents[i].name, len(again), again[0], len(ents)-i-1, ents[i+1])
		}
	}
}

// TestNameTooLong: a name longer than 255 bytes is ENAMETOOLONG, as on
// the source (stat -L of a symlink whose target is one long name said
// "No such file or directory" through the mount, "File name too long"
// on the source), in a snapshot and in the folders above.
func TestNameTooLong(t *testing.T) {
	requireFUSE(t)
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	long := strings.Repeat("x", 256)
	os.Symlink(long, filepath.Join(src, "link"))
	os.WriteFile(filepath.Join(src, strings.Repeat("y", 255)), nil, 0o644)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, _ := mount(t, r, cfs.Options{})
	for _, dir := range []string{src, filepath.Join(mnt, "latest")} {
		if _, err := os.Stat(filepath.Join(dir, "link")); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("stat -L %s/link: %v, want ENAMETOOLONG", dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, strings.Repeat("y", 255))); err != nil {
			t.Errorf("a name of 255 bytes in %s: %v", dir, err)
		}
	}
	for _, dir := range []string{mnt, filepath.Join(mnt, "snapshots")} {
		if _, err := os.Stat(filepath.Join(dir, long)); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("stat %s/<256 bytes>: %v, want ENAMETOOLONG", dir, err)
		}
	}
}

// TestListingAcrossRefresh: a process that lists ids/ in several
// getdents calls while a refresh removes a snapshot before the place it
// has reached gets every other snapshot exactly once, as from any file
// system: none skipped because the positions behind it moved.
func TestListingAcrossRefresh(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	r, _ := localRepo(t)
	var snaps []*repo.Snapshot
	for i := range 8 {
		os.WriteFile(filepath.Join(src, "f"), []byte(fmt.Sprint(i)), 0o644)
		snaps = append(snaps, ingestPath(t, r, src))
	}
	mnt, _, m := mountM(t, r, cfs.Options{Refresh: time.Hour})
	want, err := os.ReadDir(filepath.Join(mnt, "ids"))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(filepath.Join(mnt, "ids"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	seen := map[string]int{}
	// A buffer of a few entries: the listing takes several calls.
	buf := make([]byte, 64)
	calls := 0
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			seen[name]++
		}
		if calls++; calls == 2 {
			// The first snapshot listed goes.
			var first *repo.Snapshot
			for _, sn := range snaps {
				if sn.ID.Short() == want[0].Name() {
					first = sn
				}
			}
			if err := r.RemoveSnapshot(context.Background(), first.ID); err != nil {
				t.Fatal(err)
			}
			if err := m.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if calls < 4 {
		t.Fatalf("the listing took %d calls; the test needs several", calls)
	}
	for i, e := range want {
		if i == 0 {
			continue // the removed one: either way
		}
		if seen[e.Name()] != 1 {
			t.Errorf("%s listed %d times across the refresh (all: %v)", e.Name(), seen[e.Name()], seen)
		}
	}
}

// TestForgottenFoldersLetGo: a virtual folder or snapshot folder looked
// up again (every second, as its entry times out) and then forgotten by
// the kernel is no longer kept registered for listings, with what it
// loaded: a mount left up for days while snapshots come and go does not
// grow by every snapshot folder anyone looked at twice.
func TestForgottenFoldersLetGo(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	r, _ := localRepo(t)
	a := ingestPath(t, r, src)
	ingestPath(t, r, src)
	mnt, _, m := mountM(t, r, cfs.Options{Refresh: time.Hour})
	paths := []string{filepath.Join(mnt, "ids", a.ID.Short()), filepath.Join(mnt, "hosts", "h", "s")}
	for range 2 {
		for _, p := range paths {
			if _, err := os.ReadDir(p); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(virtualEntryTimeout + 200*time.Millisecond) // looked up again
	}
	if err := r.RemoveSnapshot(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Make the kernel forget every inode nothing uses.
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cfs.Folders(m) > 1 { // the root stays
		if time.Now().After(deadline) {
			t.Fatalf("%d folders still registered after the kernel forgot them (want 1: the root)", cfs.Folders(m))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// virtualEntryTimeout is how long the kernel keeps a virtual entry.
const virtualEntryTimeout = time.Second

// TestLostLookupRaceLetsGo: two lookups of one folder at once (a
// READDIRPLUS's beside the kernel's) each make a node object; go-fuse
// keeps the first one's and answers both with it. The losing lookup must
// not leave its own object registered for listings: the kernel's forget
// of the kept one then did not drop the folder, which stayed registered,
// with what it loaded, for as long as the mount lasted.
func TestLostLookupRaceLetsGo(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "f"), []byte("x"), 0o644)
	r, _ := localRepo(t)
	a := ingestPath(t, r, src)
	mnt, _, m := mountM(t, r, cfs.Options{Refresh: time.Hour})
	ids := filepath.Join(mnt, "ids")
	snap := filepath.Join(ids, a.ID.Short())
	inner := filepath.Join(snap, "d")
	if _, err := os.ReadDir(inner); err != nil {
		t.Fatal(err)
	}
	inoOf := func(p string) uint64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	// The snapshot folder (below a virtual folder) and a folder in it.
	if err := cfs.LoseLookup(m, inoOf(ids), a.ID.Short()); err != nil {
		t.Fatal(err)
	}
	if err := cfs.LoseLookup(m, inoOf(snap), "d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadDir(inner); err != nil {
		t.Fatalf("listing after the lost lookups: %v", err)
	}
	// Make the kernel forget every inode nothing uses.
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cfs.Folders(m) > 1 { // the root stays
		if time.Now().After(deadline) {
			t.Fatalf("%d folders still registered after the kernel forgot them (want 1: the root)", cfs.Folders(m))
		}
		time.Sleep(50 * time.Millisecond)
		os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0)
	}
}
