package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A damaged pack costs exactly the files that need it: restore names each
// of them and the pack, restores every other file, and fails overall.
func TestRestoreAroundDamagedPack(t *testing.T) {
	ctx := context.Background()
	// Two files far apart in content, so they land in separate packs when
	// packs are small; use distinct big random files and find the pack of
	// the first.
	files := map[string][]byte{"small.txt": []byte("small")}
	for i, name := range []string{"victim.bin", "survivor.bin"} {
		b := bytes.Repeat([]byte{byte(i + 1)}, 1) // marker
		b = append(b, make([]byte, 600<<10)...)
		for j := range b {
			b[j] ^= byte(j*7 + i*13)
		}
		files[name] = b
	}
	f := newDamageFixture(t, files)
	r, src, res := f.r, f.src, f.res
	n := f.node(t, "victim.bin")
	loc := f.damage(t, n.Content[0].ID) // inside the victim's first blob

	// Read blob by blob (local storage) and pack by pack (remote).
	for _, readPacks := range []bool{false, true} {
		var warned []string
		dst := t.TempDir()
		_, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0, ReadPacks: readPacks,
			Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }})
		if !errors.Is(err, restore.ErrIncomplete) {
			t.Fatalf("restore over a damaged pack: %v, want ErrIncomplete", err)
		}
		all := strings.Join(warned, "\n")
		if !strings.Contains(all, "victim.bin") || !strings.Contains(all, loc.Pack.String()) {
			t.Fatalf("warnings must name the file and the pack %s:\n%s", loc.Pack, all)
		}
		// What can be restored is: the victim is in place, at its size,
		// with zeros where its damaged chunk belongs and every other
		// byte right.
		want, _ := os.ReadFile(filepath.Join(src, "victim.bin"))
		got, err := os.ReadFile(filepath.Join(dst, "victim.bin"))
		if err != nil || len(got) != len(want) {
			t.Fatalf("readPacks %v: victim.bin not restored around its damage: %d bytes, %v", readPacks, len(got), err)
		}
		c0 := int(n.Content[0].Size)
		if !bytes.Equal(got[:c0], make([]byte, c0)) || !bytes.Equal(got[c0:], want[c0:]) {
			t.Fatalf("readPacks %v: victim.bin: want zeros for its damaged first %d bytes and the source after", readPacks, c0)
		}
		if !strings.Contains(all, "left as zeros") {
			t.Fatalf("the warning must say the range is left as zeros:\n%s", all)
		}
		if left, _ := filepath.Glob(filepath.Join(dst, ".*"+restore.PartialSuffix+"*")); len(left) > 0 {
			t.Fatalf("temporaries left: %v", left)
		}
		for _, name := range []string{"small.txt"} {
			want, _ := os.ReadFile(filepath.Join(src, name))
			got, err := os.ReadFile(filepath.Join(dst, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s was not restored intact: %v", name, err)
			}
		}
		// survivor.bin shares the pack only if packs are larger than both
		// files; then it is reported too, otherwise it must be intact.
		if !strings.Contains(all, "survivor.bin") {
			want, _ := os.ReadFile(filepath.Join(src, "survivor.bin"))
			got, _ := os.ReadFile(filepath.Join(dst, "survivor.bin"))
			if !bytes.Equal(got, want) {
				t.Fatal("survivor.bin was not reported, yet it is not intact")
			}
		}
	}
}

// A full disk under the repository fails the ingest with an error that
// says so, writes no snapshot, and leaves earlier snapshots restorable.
func TestIngestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test mounts a tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	ctx := context.Background()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=4m"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v", err)
		}
		t.Skipf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	be, err := local.Create(filepath.Join(mnt, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	r := repo.TestRepositoryOn(t, be)
	small := filepath.Join(dir, "small-src")
	os.MkdirAll(small, 0o755)
	os.WriteFile(filepath.Join(small, "a"), []byte("fits"), 0o644)
	first, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{small}})
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big-src")
	os.MkdirAll(big, 0o755)
	rnd := make([]byte, 8<<20) // incompressible: more than the disk holds
	rand.NewChaCha8([32]byte{9}).Read(rnd)
	os.WriteFile(filepath.Join(big, "big"), rnd, 0o644)
	_, err = ingest.Run(ctx, r, ingest.Options{Paths: []string{big}})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("ingest onto a full disk: %v, want an error wrapping ENOSPC", err)
	}
	all, err := r.Snapshots(ctx, nil)
	if err != nil || len(all) != 1 || all[0].ID != first.Snapshot.ID {
		t.Fatalf("snapshots after the failed ingest: %v %v", all, err)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, first.Snapshot, small, restore.Options{Target: dst}); err != nil {
		t.Fatalf("restore of the earlier snapshot: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "a")); string(b) != "fits" {
		t.Fatalf("restored %q", b)
	}
}

// A file that lacks several chunks is reported once, with every byte left
// as zeros counted and the first such range named: not just the chunk
// whose read happened to fail first.
func TestRestoreReportsEveryZeroedChunk(t *testing.T) {
	ctx := context.Background()
	b := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{7}).Read(b)
	f := newDamageFixture(t, map[string][]byte{"big.bin": b})
	r, src, res := f.r, f.src, f.res
	n := f.node(t, "big.bin")
	if len(n.Content) < 3 {
		t.Fatalf("big.bin has %d chunks, want 3 or more", len(n.Content))
	}
	// Damage the second and the last chunk.
	var off, lost, first uint64
	for i, c := range n.Content {
		if i == 1 || i == len(n.Content)-1 {
			if first == 0 {
				first = off
			}
			lost += c.Size
			f.damage(t, c.ID)
		}
		off += c.Size
	}
	for _, readPacks := range []bool{false, true} {
		var warned []string
		dst := t.TempDir()
		_, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0, ReadPacks: readPacks,
			Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }})
		if !errors.Is(err, restore.ErrIncomplete) {
			t.Fatalf("restore over damaged chunks: %v, want ErrIncomplete", err)
		}
		if len(warned) != 1 {
			t.Fatalf("readPacks %v: want one warning for big.bin, got:\n%s", readPacks, strings.Join(warned, "\n"))
		}
		want := fmt.Sprintf("big.bin: %d bytes in 2 chunks left as zeros, the first at offset %d ", lost, first)
		if !strings.Contains(warned[0], want) {
			t.Fatalf("readPacks %v: warning %q\ndoes not say %q", readPacks, warned[0], want)
		}
		got, err := os.ReadFile(filepath.Join(dst, "big.bin"))
		if err != nil || len(got) != len(b) {
			t.Fatalf("big.bin not restored around its damage: %d bytes, %v", len(got), err)
		}
	}
}

// A file restored around a damaged chunk is not taken, by a later restore
// into the same target, for a newer copy to keep: once the repository is
// mended (or the storage answers again), restoring again replaces the
// zeros with the data and reports no error.
func TestRestoreAgainReplacesDamagedFile(t *testing.T) {
	ctx := context.Background()
	b := make([]byte, 600<<10)
	rand.NewChaCha8([32]byte{9}).Read(b)
	// An mtime well in the past, as a restored file's mostly is.
	f := newDamageFixture(t, map[string][]byte{"victim.bin": b}, time.Now().Add(-48*time.Hour))
	r, src, res := f.r, f.src, f.res
	packFile, _ := f.packOf(t, f.node(t, "victim.bin").Content[0].ID)
	whole, err := os.ReadFile(packFile)
	if err != nil {
		t.Fatal(err)
	}
	f.damage(t, f.node(t, "victim.bin").Content[0].ID)
	damaged, err := os.ReadFile(packFile)
	if err != nil {
		t.Fatal(err)
	}

	for _, policy := range []restore.Overwrite{restore.IfChanged, restore.IfNewer} {
		for _, readPacks := range []bool{false, true} {
			dst := t.TempDir()
			run := func() ([]string, error) {
				var warned []string
				_, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0,
					ReadPacks: readPacks, Overwrite: policy,
					Warn:   func(p string, err error) { warned = append(warned, p+": "+err.Error()) },
					Notice: func(p string, msg string) { warned = append(warned, p+": "+msg) }})
				return warned, err
			}
			if err := os.WriteFile(packFile, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := run(); !errors.Is(err, restore.ErrIncomplete) {
				t.Fatalf("restore over a damaged pack: %v, want ErrIncomplete", err)
			}
			// Marked as not whole: mode 0600 (not the mode it is written
			// with, nor the snapshot's) and an mtime before 1970.
			if fi, err := os.Lstat(filepath.Join(dst, "victim.bin")); err != nil || fi.Mode().Perm() != 0o600 || fi.ModTime().After(time.Unix(0, 0)) {
				t.Fatalf("damaged file: %v %v %v", fi.Mode(), fi.ModTime(), err)
			}
			if err := os.WriteFile(packFile, whole, 0o600); err != nil {
				t.Fatal(err)
			}
			warned, err := run()
			if err != nil || len(warned) > 0 {
				t.Fatalf("policy %v, readPacks %v: restore again once mended: %v\n%s", policy, readPacks, err, strings.Join(warned, "\n"))
			}
			got, err := os.ReadFile(filepath.Join(dst, "victim.bin"))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("policy %v, readPacks %v: victim.bin still not the snapshot's copy after restoring again (%v)", policy, readPacks, err)
			}
		}
	}
}

// damageFixture is a local repository holding one snapshot of src, whose
// pack files a test damages in place.
type damageFixture struct {
	r        *repo.Repository
	dir, src string
	res      *ingest.Result
}

// newDamageFixture writes files into src (with mtime, when given) and
// ingests it.
func newDamageFixture(t *testing.T, files map[string][]byte, mtime ...time.Time) *damageFixture {
	t.Helper()
	dir := t.TempDir()
	be, err := local.Create(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	f := &damageFixture{r: repo.TestRepositoryOn(t, be), dir: dir, src: filepath.Join(dir, "src")}
	os.MkdirAll(f.src, 0o755)
	for name, b := range files {
		p := filepath.Join(f.src, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, m := range mtime {
			os.Chtimes(p, m, m)
		}
	}
	if f.res, err = ingest.Run(context.Background(), f.r, ingest.Options{Paths: []string{f.src}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// node is the snapshot's node of the file name in src.
func (f *damageFixture) node(t *testing.T, name string) *tree.Node {
	t.Helper()
	n, _, err := restore.Find(context.Background(), f.r, f.res.Snapshot, filepath.Join(f.src, name))
	if err != nil || n.Kind != tree.KindFile || len(n.Content) == 0 {
		t.Fatalf("find %s: %v %+v", name, err, n)
	}
	return n
}

// packOf is the pack file holding the data blob bid, and where it is.
func (f *damageFixture) packOf(t *testing.T, bid id.ID) (string, index.Blob) {
	t.Helper()
	loc, ok, err := f.r.LookupBlob(bid)
	if err != nil || !ok {
		t.Fatalf("lookup %s: %v %v", bid.Short(), ok, err)
	}
	return filepath.Join(f.dir, "repo", filepath.FromSlash(repo.PackName(id.DataBlob, loc.Pack))), loc
}

// damage flips a byte inside the stored blob bid, in its pack file.
func (f *damageFixture) damage(t *testing.T, bid id.ID) index.Blob {
	t.Helper()
	packFile, loc := f.packOf(t, bid)
	b, err := os.ReadFile(packFile)
	if err != nil {
		t.Fatal(err)
	}
	b[loc.Offset+40] ^= 0x55
	if err := os.WriteFile(packFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return loc
}
