package fs_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// loadLog records which stored blobs were read, by pack and offset.
type loadLog struct {
	backends.Backend
	mu     sync.Mutex
	loaded map[string]bool // "pack@offset"
}

func (l *loadLog) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if strings.HasPrefix(name, "data/") {
		l.mu.Lock()
		l.loaded[name+"@"+strconv.FormatInt(off, 10)] = true
		l.mu.Unlock()
	}
	return l.Backend.Load(ctx, name, off, n)
}

// settled returns which of chunks were read from storage, once nothing
// more has been read for a while (read-ahead runs in the background).
func (l *loadLog) settled(t *testing.T, r *repo.Repository, chunks []tree.Chunk) []bool {
	t.Helper()
	last, still := -1, 0
	for deadline := time.Now().Add(20 * time.Second); still < 3 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		l.mu.Lock()
		n := len(l.loaded)
		l.mu.Unlock()
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	return l.chunksLoaded(t, r, chunks)
}

// chunksLoaded says, for each of chunks, whether it was loaded so far.
func (l *loadLog) chunksLoaded(t *testing.T, r *repo.Repository, chunks []tree.Chunk) []bool {
	t.Helper()
	got := make([]bool, len(chunks))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range chunks {
		loc, ok, err := r.LookupBlob(c.ID)
		if err != nil || !ok {
			t.Fatalf("chunk %d not in the index: %v", i, err)
		}
		got[i] = l.loaded[repo.PackName(loc.Type, loc.Pack)+"@"+strconv.FormatInt(int64(loc.Offset), 10)]
	}
	return got
}

func count(b []bool) (n int) {
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// TestReadAheadFollowsSequentialReaders: a program that reads a few
// small pieces of a large file here and there (unzip -p or Python's
// zipfile taking members out of an archive, sqlite3 walking pages) made
// the mount fetch and decrypt the next 16 MiB after each piece, since a
// second read just after the first counted as a sequential reader: with
// ten members read, nearly all of a 48 MiB archive came from storage (on
// S3, paid for and waited on). Read-ahead now grows with what the reader
// has read in a row, as the kernel's own does, so such a reader costs
// about what it reads, and one that reads on still gets the full
// read-ahead.
func TestReadAheadFollowsSequentialReaders(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	data := make([]byte, 48<<20)
	rand.NewChaCha8([32]byte{7}).Read(data)
	for _, name := range []string{"archive.zip", "video.mkv"} {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		data[0]++ // two files, not one stored once
	}
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	ll := &loadLog{Backend: be, loaded: map[string]bool{}}
	r := repo.TestRepositoryOn(t, ll)
	sn := ingestPath(t, r, src)
	content := func(name string) []tree.Chunk {
		n, _, err := restore.Find(context.Background(), r, sn, filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return n.Content
	}
	mnt, _ := mount(t, r, cfs.Options{})

	// Ten members of the archive, 4.75 MiB apart: a local header, then
	// the member's data just after it.
	zipChunks := content("archive.zip")
	f, err := os.Open(filepath.Join(mnt, "latest", "archive.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var offs []int64
	for i := range 10 {
		off := int64(i)*(19<<18) + 100<<10
		offs = append(offs, off)
		if _, err := f.ReadAt(buf[:30], off); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadAt(buf, off+30); err != nil {
			t.Fatal(err)
		}
	}
	got := ll.settled(t, r, zipChunks)
	// What the reads and the kernel's read-ahead for them touch lies
	// within 2 MiB of each member's start.
	pos, far := int64(0), 0
	for i, c := range zipChunks {
		near := false
		for _, off := range offs {
			near = near || pos < off+2<<20 && pos+int64(c.Size) > off
		}
		if got[i] && !near {
			far++
		}
		pos += int64(c.Size)
	}
	if far > 0 {
		t.Errorf("ten small reads of an archive of %d chunks read %d of them from storage, %d of them far from any read", len(zipChunks), count(got), far)
	}

	// A program reading a video from its start gets read-ahead far
	// beyond what it and the kernel have asked for.
	vidChunks := content("video.mkv")
	v, err := os.Open(filepath.Join(mnt, "latest", "video.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const read = 12 << 20
	for off := int64(0); off < read; off += int64(len(buf)) {
		if _, err := v.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
	got = ll.settled(t, r, vidChunks)
	pos, ahead := int64(0), false
	for i, c := range vidChunks {
		if pos >= read+8<<20 && got[i] {
			ahead = true
		}
		pos += int64(c.Size)
	}
	if !ahead {
		t.Errorf("a reader of the first 12 MiB of a video got no chunk read ahead beyond 20 MiB (%d of %d chunks read)", count(got), len(vidChunks))
	}
}

// TestReadAheadForEachReader: the mount sees reads, not who makes them,
// and kept one read position per file: two programs reading one file at
// once in different places (cp of a VM image while the VM reads it, two
// md5sum of a video started apart) each broke the other's run at every
// read, and neither got any read-ahead. Each run of reads now keeps its
// own, for a few readers at once.
func TestReadAheadForEachReader(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	data := make([]byte, 48<<20)
	rand.NewChaCha8([32]byte{9}).Read(data)
	if err := os.WriteFile(filepath.Join(src, "disk.img"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	ll := &loadLog{Backend: be, loaded: map[string]bool{}}
	r := repo.TestRepositoryOn(t, ll)
	sn := ingestPath(t, r, src)
	n, _, err := restore.Find(context.Background(), r, sn, filepath.Join(src, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	mnt, _ := mount(t, r, cfs.Options{})
	p := filepath.Join(mnt, "latest", "disk.img")
	// O_DIRECT: the mount sees these reads as they are made, without the
	// kernel's read-ahead.
	var fds [2]int
	for i := range fds {
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_DIRECT, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		fds[i] = fd
	}
	buf := alignedBuf(512 << 10)
	starts := [2]int64{0, 24 << 20}
	const each = 8 << 20
	for off := int64(0); off < each; off += int64(len(buf)) {
		for i, fd := range fds {
			if _, err := syscall.Pread(fd, buf, starts[i]+off); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Read-ahead happens in the background: wait for it (on a loaded
	// machine a chunk can take long), not for the loads to pause.
	var ahead [2]bool
	var got []bool
	for deadline := time.Now().Add(20 * time.Second); !(ahead[0] && ahead[1]) && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = ll.chunksLoaded(t, r, n.Content)
		pos := int64(0)
		for i, c := range n.Content {
			for j, s := range starts {
				if got[i] && pos >= s+each+2<<20 && pos < s+2*each {
					ahead[j] = true
				}
			}
			pos += int64(c.Size)
		}
	}
	for j, s := range starts {
		if !ahead[j] {
			t.Errorf("the reader of [%d MiB, %d MiB) got nothing read ahead (%d of %d chunks read)", s>>20, (s+each)>>20, count(got), len(n.Content))
		}
	}
}

// alignedBuf is a buffer O_DIRECT accepts.
func alignedBuf(n int) []byte {
	b := make([]byte, n+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&b[0]))%4096)) % 4096
	return b[skip : skip+n]
}
