package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

func write(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, r *repo.Repository, sn *repo.Snapshot, dir string) []string {
	t.Helper()
	n, _, err := restore.Find(context.Background(), r, sn, dir)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := r.LoadTree(context.Background(), n.Subtree)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range nodes {
		out = append(out, x.Name)
	}
	return out
}

// A file rewritten in place with its old size and mtime is still seen as
// changed (its ctime moved), read again, and restored with the new bytes.
func TestChangedFileSameSizeAndMtime(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	f := filepath.Join(src, "f")
	write(t, f, "version one")
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	os.Chtimes(f, mt, mt)
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}
	if _, err := ingest.Run(ctx, r, opt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // ctime granularity
	write(t, f, "version two")
	os.Chtimes(f, mt, mt)
	res, err := ingest.Run(ctx, r, opt)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Snapshot.Summary; s.FilesChanged != 1 || s.FilesUnchanged != 0 {
		t.Fatalf("summary %+v: the rewritten file must count as changed", s)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "version two" {
		t.Fatalf("restored %q", b)
	}
}

// Without its file-change cache (a lost or new cache folder) an ingest
// compares files with the newest snapshot of its host and source, as
// restic does: an unchanged file is not read again, a changed one is. With
// no such snapshot (another host) everything is read, and the data
// deduplicates.
func TestFreshCacheComparesWithParent(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), strings.Repeat("data ", 1000))
	write(t, filepath.Join(src, "b"), strings.Repeat("more ", 1000))
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}
	r1 := repo.TestRepository(t)
	if _, err := ingest.Run(ctx, r1, opt); err != nil {
		t.Fatal(err)
	}
	freshRun := func(opt ingest.Options) repo.Summary {
		t.Helper()
		r, err := repo.Open(ctx, r1.Backend(), repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		res, err := ingest.Run(ctx, r, opt)
		if err != nil {
			t.Fatal(err)
		}
		return *res.Snapshot.Summary
	}
	if s := freshRun(opt); s.FilesUnchanged != 2 || s.FilesNew+s.FilesChanged != 0 || s.DataAdded > 1000 {
		t.Fatalf("summary %+v: with a fresh cache both files should be unchanged against the parent snapshot", s)
	}
	write(t, filepath.Join(src, "b"), strings.Repeat("changed ", 1000))
	if s := freshRun(opt); s.FilesUnchanged != 1 || s.FilesChanged != 1 || s.DataBlobs != 1 {
		t.Fatalf("summary %+v: with a fresh cache the changed file should be read again, the other not", s)
	}
	other := opt
	other.Host = "elsewhere"
	if s := freshRun(other); s.FilesNew != 2 || s.DataBlobs != 0 {
		t.Fatalf("summary %+v: with no parent both files should be read again (new) and their data deduplicate", s)
	}
}

// --one-file-system keeps a mount point as an empty folder and does not
// descend into it; a path given on the command line is always taken.
func TestOneFileSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test mounts a tmpfs")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "here"), "x")
	mnt := filepath.Join(src, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v", err)
		}
		t.Skipf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	write(t, filepath.Join(mnt, "other-fs"), "y")

	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, OneFileSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, r, res.Snapshot, src); strings.Join(got, ",") != "here,mnt" {
		t.Fatalf("entries %v", got)
	}
	if got := names(t, r, res.Snapshot, mnt); len(got) != 0 {
		t.Fatalf("mount point contents were ingested: %v", got)
	}
	res, err = ingest.Run(ctx, r, ingest.Options{Paths: []string{src, mnt}, OneFileSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, r, res.Snapshot, mnt); strings.Join(got, ",") != "other-fs" {
		t.Fatalf("a mount point given on the command line must be taken: %v", got)
	}
	// A path given below the mount point is taken too (as restic does),
	// with only the way down to it in the mount point.
	inner := filepath.Join(mnt, "inner")
	write(t, filepath.Join(inner, "deep"), "z")
	res, err = ingest.Run(ctx, r, ingest.Options{Paths: []string{src, inner}, OneFileSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, r, res.Snapshot, mnt); strings.Join(got, ",") != "inner" {
		t.Fatalf("the mount point must hold only the way down to the given path: %v", got)
	}
	if got := names(t, r, res.Snapshot, inner); strings.Join(got, ",") != "deep" {
		t.Fatalf("a path given below a mount point must be taken: %v", got)
	}
	os.RemoveAll(inner)
	res, err = ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, r, res.Snapshot, mnt); strings.Join(got, ",") != "other-fs" {
		t.Fatalf("without --one-file-system the mount is crossed: %v", got)
	}
}

// Hardlinked files are read once and restored as one inode.
func TestHardlinksReadOnce(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), strings.Repeat("z", 5000))
	os.Link(filepath.Join(src, "a"), filepath.Join(src, "b"))
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0}); err != nil {
		t.Fatal(err)
	}
	var sa, sb syscall.Stat_t
	syscall.Stat(filepath.Join(dst, "a"), &sa)
	syscall.Stat(filepath.Join(dst, "b"), &sb)
	if sa.Ino != sb.Ino || sa.Nlink != 2 {
		t.Fatalf("restored links: inodes %d %d, nlink %d", sa.Ino, sb.Ino, sa.Nlink)
	}
	n, _, _ := restore.Find(ctx, r, res.Snapshot, filepath.Join(src, "b"))
	if n.Kind != tree.KindFile || n.Links != 2 {
		t.Fatalf("node %+v", n)
	}
}

// An unchanged file's extended attributes come from the file-change cache
// (an unchanged ctime vouches for them); setting one moves the ctime, and
// the next snapshot has the new value.
func TestUnchangedFileKeepsXattrs(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	f := filepath.Join(src, "f")
	write(t, f, "data")
	if err := syscall.Setxattr(f, "user.color", []byte("red"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	opt := ingest.Options{Paths: []string{src}, Host: "h", Source: "s"}
	xattrOf := func(sn *repo.Snapshot) string {
		t.Helper()
		n, _, err := restore.Find(ctx, r, sn, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range n.Xattrs {
			if x.Name == "user.color" {
				return string(x.Value)
			}
		}
		return ""
	}
	for i, want := range []string{"red", "red", "blue"} {
		if i == 2 {
			time.Sleep(10 * time.Millisecond) // ctime granularity
			if err := syscall.Setxattr(f, "user.color", []byte("blue"), 0); err != nil {
				t.Fatal(err)
			}
		}
		res, err := ingest.Run(ctx, r, opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := xattrOf(res.Snapshot); got != want {
			t.Fatalf("ingest %d: user.color = %q, want %q", i+1, got, want)
		}
		if s := res.Snapshot.Summary; i == 1 && s.FilesUnchanged != 1 {
			t.Fatalf("ingest 2: summary %+v: the file must count as unchanged", s)
		}
	}
}

// Both chunkers cut a file the same way every time: the same data under
// another name adds nothing, in a repository of each kind (Rabin ones
// were made before 2026-11-26 and keep their chunker). A chunker this
// cairn does not know stops an ingest before it writes anything, and the
// repository still reads.
func TestChunkers(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	// 16 MiB: a chunk is 512 KiB plus 1 MiB on average, cut where the
	// repository's random key says; 5 MiB came out as one chunk about
	// once in a hundred runs, 16 MiB in fewer than four almost never.
	big := make([]byte, 16<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	os.WriteFile(filepath.Join(src, "a.bin"), big, 0o644)
	for _, algo := range []string{repo.ChunkerGear, repo.ChunkerRabin} {
		t.Run(algo, func(t *testing.T) {
			be := mem.New()
			opt := repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF, Chunker: algo}
			if err := repo.Init(ctx, be, opt); err != nil {
				t.Fatal(err)
			}
			r, err := repo.Open(ctx, be, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := r.Config().Chunker.ChunkerAlgorithm(); got != algo {
				t.Fatalf("config chunker %q, want %q", got, algo)
			}
			first, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "a"})
			if err != nil {
				t.Fatal(err)
			}
			if n := first.Snapshot.Summary.DataBlobs; n < 4 {
				t.Fatalf("16 MiB in %d chunks", n)
			}
			other := t.TempDir()
			os.WriteFile(filepath.Join(other, "copy.bin"), big, 0o644)
			res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{other}, Host: "h", Source: "b"})
			if err != nil {
				t.Fatal(err)
			}
			if s := res.Snapshot.Summary; s.DataBlobs != 0 {
				t.Fatalf("the same data under another name added %d data blobs", s.DataBlobs)
			}
			r.TestSetChunker(t, "zigzag")
			if _, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{other}, Host: "h", Source: "c"}); !errors.Is(err, repo.ErrUnsupported) {
				t.Fatalf("ingest with an unknown chunker: %v, want ErrUnsupported", err)
			}
			dst := t.TempDir()
			if _, err := restore.Run(ctx, r, res.Snapshot, other, restore.Options{Target: dst}); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(dst, "copy.bin")); !bytes.Equal(b, big) {
				t.Fatal("restored data differs")
			}
		})
	}
}

// A large file nobody has read lately is read once (fsmeta.ReadOnce): it
// is stored exactly (holes and all), and the backup leaves the cache as it
// found it, instead of filling it with data read once.
func TestColdFileLeavesPageCache(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	p := filepath.Join(src, "big")
	rng := rand.New(rand.NewPCG(3, 4))
	part := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// 3 MiB and a bit of data, a 2 MiB hole, then a tail that does not
	// end on a block.
	head, tail := part(3<<20+123), part(700_001)
	f.Write(head)
	f.WriteAt(tail, int64(len(head))+2<<20+4096-123)
	size, _ := f.Seek(0, 2)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	f.Close()
	// A filesystem that keeps files in memory (tmpfs) cannot drop them;
	// there only the bytes are checked.
	cold := cachedBytes(t, p) < size/4
	if !cold && os.Getenv("CI") == "true" {
		t.Fatal("CI's temporary folder must drop a file's pages on request (a disk, not tmpfs)")
	}

	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if cached := cachedBytes(t, p); cold && cached > 64<<10 {
		t.Errorf("after the ingest %d bytes of the cold file are in the page cache", cached)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != size || !bytes.Equal(got, want) {
		t.Fatalf("restored %d bytes, not the %d of the file", len(got), size)
	}
}

// cachedBytes is how much of the file at p the page cache holds.
func cachedBytes(t *testing.T, p string) int64 {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &cs, 0); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI's machine has cachestat (Linux 6.5): %v", err)
		}
		t.Skipf("cachestat: %v", err)
	}
	return int64(cs.Cache) * int64(os.Getpagesize())
}

// A tag file that is a fifo or a dangling symlink marks its folder as
// restic's lstat finds it, and a fifo named like a tag file never hangs
// the ingest (it used to block in open, even against SIGTERM).
func TestTagFileFifoAndSymlink(t *testing.T) {
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "fifo", "data"), "x")
	write(t, filepath.Join(src, "link", "data"), "x")
	write(t, filepath.Join(src, "cache", "data"), "x")
	if err := unix.Mkfifo(filepath.Join(src, "fifo", ".nobackup"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent", filepath.Join(src, "link", ".nobackup")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(src, "cache", "CACHEDIR.TAG"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type res struct {
		sn  *repo.Snapshot
		err error
	}
	done := make(chan res, 1)
	go func() {
		out, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s",
			ExcludeIfPresent: []string{".nobackup"}, ExcludeCaches: true})
		if err != nil {
			done <- res{nil, err}
			return
		}
		done <- res{out.Snapshot, nil}
	}()
	var got res
	select {
	case got = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("ingest hangs on a fifo named like a tag file")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	for dir, want := range map[string]string{"fifo": ".nobackup", "link": ".nobackup", "cache": "CACHEDIR.TAG data"} {
		if g := strings.Join(names(t, r, got.sn, filepath.Join(src, dir)), " "); g != want {
			t.Errorf("%s holds %q, want %q", dir, g, want)
		}
	}
}

// A hardlink group seen through a bind mount too has more names in the
// snapshot than its link count: the snapshot lists the count inside it
// (what a mount reports as nlink), as LinkCounts does after a rewrite.
func TestHardlinksThroughBindMountCounted(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test makes a bind mount")
		}
		t.Skip("needs root to make a bind mount")
	}
	ctx := context.Background()
	src := t.TempDir()
	data, bind := filepath.Join(src, "data"), filepath.Join(src, "bind")
	write(t, filepath.Join(data, "a"), "shared")
	if err := os.Link(filepath.Join(data, "a"), filepath.Join(data, "b")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(bind, 0o755)
	if err := syscall.Mount(data, bind, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	defer syscall.Unmount(bind, syscall.MNT_DETACH)
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(data, "a"), &st); err != nil {
		t.Fatal(err)
	}
	r := repo.TestRepository(t)
	for _, ofs := range []bool{false, true} {
		res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, OneFileSystem: ofs})
		if err != nil {
			t.Fatal(err)
		}
		want := []repo.LinkCount{{Dev: uint64(st.Dev), Inode: st.Ino, Count: 4}}
		if got := res.Snapshot.Links; len(got) != 1 || got[0] != want[0] {
			t.Fatalf("one-file-system %v: snapshot links %+v, want %+v (2 links seen through 2 paths each)", ofs, got, want)
		}
		lc, err := r.LinkCounts(ctx, res.Snapshot.Tree)
		if err != nil {
			t.Fatal(err)
		}
		if len(lc) != 1 || lc[0] != want[0] {
			t.Fatalf("LinkCounts %+v, want %+v", lc, want)
		}
	}
}
