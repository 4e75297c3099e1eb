package fsmeta

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// skipOutsideCI skips a test whose premise this machine lacks (a kernel
// call, a filesystem that reads around the page cache); under CI, whose
// machine has them, it fails instead, so that the test cannot go quiet.
func skipOutsideCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI's machine must allow this test: "+format, args...)
	}
	t.Skipf(format, args...)
}

// coldFile writes data to a new file, flushes it and drops it from the
// page cache, as a file nobody has read for a while.
func coldFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	return p
}

func cachedPages(t *testing.T, f *os.File, size int64) uint64 {
	t.Helper()
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{Len: uint64(size)}, &cs, 0); err != nil {
		skipOutsideCI(t, "cachestat: %v", err)
	}
	return cs.Cache
}

// onLocalDisk reports whether path is on a filesystem Direct reads around
// the cache: there it must for a cold file.
func onLocalDisk(t *testing.T, path string) bool {
	t.Helper()
	ok, err := OnLocalDisk(path)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestDirectReaderRegions(t *testing.T) {
	data := make([]byte, 5<<20+777)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	p := coldFile(t, data)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := int64(len(data))
	direct := Direct(f, size)
	if !direct && onLocalDisk(t, p) {
		t.Fatal("a cold file on a local disk is not read with O_DIRECT")
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := fl&unix.O_DIRECT != 0; got != direct {
		t.Fatalf("Direct said %v but O_DIRECT is %v", direct, got)
	}
	// A small buffer, so that regions cross many blocks and the reads
	// ahead run.
	r := NewDirectReader(f, direct, 64<<10)
	defer r.Close()
	type region struct{ off, n int64 }
	regions := []region{{0, size}, {1, 3<<20 + 5}, {4095, 1}, {4096, 4096}, {size - 10, 10}, {0, 0}}
	for range 40 {
		off := rng.Int64N(size)
		regions = append(regions, region{off, rng.Int64N(size - off + 1)})
	}
	for _, rg := range regions {
		got, err := io.ReadAll(r.Reset(rg.off, rg.n))
		if err != nil {
			t.Fatalf("region %+v: %v", rg, err)
		}
		if !bytes.Equal(got, data[rg.off:rg.off+rg.n]) {
			t.Fatalf("region %+v: read %d bytes, not the file's", rg, len(got))
		}
	}
	// A region past the end (the file shrank since its size was taken)
	// ends where the file does.
	got, err := io.ReadAll(r.Reset(size-100, 1<<20))
	if err != nil || !bytes.Equal(got, data[size-100:]) {
		t.Fatalf("region past the end: %d bytes, %v", len(got), err)
	}
	// Reading half a region and moving on leaves no read behind that
	// could outlive the file.
	rd := r.Reset(0, size)
	if _, err := io.ReadFull(rd, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if r.ahead == nil {
		t.Fatal("no read ahead of the caller in a region of many blocks")
	}
	if _, err := io.ReadFull(rd, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	r.wait()
	if r.ahead != nil {
		t.Fatal("a read is still running after wait")
	}
	if direct {
		if n := cachedPages(t, f, size); n > 2 {
			t.Fatalf("reading around the page cache left %d pages in it", n)
		}
	}
}

// A file in the page cache (just written, say) is read from there.
func TestDirectLeavesCachedFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("cached "), 1<<18)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if Direct(f, int64(len(data))) {
		t.Fatal("a file that is all in the page cache (and dirty) was switched to O_DIRECT")
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_DIRECT != 0 {
		t.Fatal("O_DIRECT set on a cached file")
	}
}

// A file whose few cached pages are waiting to be written is read through
// the cache: O_DIRECT would have to write them out first.
func TestDirectLeavesDirtyFiles(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	p := coldFile(t, data)
	if !onLocalDisk(t, p) {
		skipOutsideCI(t, "not a local disk filesystem")
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("dirty"), 4096*10); err != nil {
		t.Fatal(err)
	}
	if Direct(f, int64(len(data))) {
		t.Fatal("a file with a dirty page was switched to O_DIRECT")
	}
}

// Only files on local disk filesystems are read around the cache: tmpfs
// has no disk, and network and FUSE filesystems read ahead on their own.
// (A file on tmpfs is always all cached, so cold says no there as well.)
func TestLocalDisk(t *testing.T) {
	for dir, want := range map[string]bool{"/dev/shm": false, t.TempDir(): onLocalDisk(t, t.TempDir())} {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			continue
		}
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		got := localDisk(int(f.Fd()))
		f.Close()
		if got != want {
			t.Errorf("%s: localDisk %v, want %v", dir, got, want)
		}
	}
}

// A read the filesystem refuses with O_DIRECT (here: a buffer that is not
// aligned) goes on through the page cache, with the right bytes.
func TestDirectReaderFallsBack(t *testing.T) {
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	p := coldFile(t, data)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !Direct(f, int64(len(data))) {
		skipOutsideCI(t, "not read with O_DIRECT here")
	}
	r := NewDirectReader(f, true, 64<<10)
	defer r.Close()
	for i := range r.bufs {
		r.bufs[i] = r.bufs[i][1 : len(r.bufs[i])-directAlign+1] // misaligned
	}
	got, err := io.ReadAll(r.Reset(5, int64(len(data))-5))
	if err != nil || !bytes.Equal(got, data[5:]) {
		t.Fatalf("after the fallback: %d bytes, %v", len(got), err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_DIRECT != 0 {
		t.Fatal("O_DIRECT still set after the filesystem refused it")
	}
}
