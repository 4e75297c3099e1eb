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
// call, a filesystem that drops file pages on request); under CI, whose
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

// cachedPages is how many of the file's pages the page cache holds.
func cachedPages(t *testing.T, f *os.File, size int64) uint64 {
	t.Helper()
	var cs unix.Cachestat_t
	if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{Len: uint64(size)}, &cs, 0); err != nil {
		skipOutsideCI(t, "cachestat: %v", err)
	}
	return cs.Cache
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return b
}

// openCold opens a cold file of data and its ReadOnce, skipping (failing
// under CI) where the filesystem keeps the file in memory all the same.
func openCold(t *testing.T, data []byte) (*os.File, *ReadOnce) {
	t.Helper()
	f, err := os.Open(coldFile(t, data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if n := cachedPages(t, f, int64(len(data))); n*4 >= uint64(len(data)/os.Getpagesize()) {
		skipOutsideCI(t, "this filesystem keeps the file in memory (%d pages after FADV_DONTNEED)", n)
	}
	o := NewReadOnce(f, int64(len(data)))
	if o == nil {
		t.Fatal("a cold file is not read once")
	}
	return f, o
}

// Every region reads the file's bytes, and when the file is done the cache
// holds none of it.
func TestReadOnceRegions(t *testing.T) {
	data := randomBytes(5<<20+777, 1)
	f, o := openCold(t, data)
	size := int64(len(data))
	type region struct{ off, n int64 }
	regions := []region{{0, size}, {1, 3<<20 + 5}, {4095, 1}, {4096, 4096}, {size - 10, 10}, {0, 0}}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		off := rng.Int64N(size)
		regions = append(regions, region{off, rng.Int64N(size - off + 1)})
	}
	for _, rg := range regions {
		got, err := io.ReadAll(o.Region(rg.off, rg.n))
		if err != nil {
			t.Fatalf("region %+v: %v", rg, err)
		}
		if !bytes.Equal(got, data[rg.off:rg.off+rg.n]) {
			t.Fatalf("region %+v: read %d bytes, not the file's", rg, len(got))
		}
	}
	// A region past the end (the file shrank since its size was taken)
	// ends where the file does.
	got, err := io.ReadAll(o.Region(size-100, 1<<20))
	if err != nil || !bytes.Equal(got, data[size-100:]) {
		t.Fatalf("region past the end: %d bytes, %v", len(got), err)
	}
	o.Close()
	if n := cachedPages(t, f, size); n > 2 {
		t.Fatalf("after Close %d pages of the file read once are in the cache", n)
	}
}

// While a large file is read, the pages behind the reader leave the cache
// (those within a window of it, and the read-ahead in front of it, may
// stay until Close).
func TestReadOnceDropsBehind(t *testing.T) {
	const size = 6 * dropWindow
	data := randomBytes(size, 2)
	f, o := openCold(t, data)
	r := o.Region(0, size)
	buf := make([]byte, 1<<20)
	var read []byte
	for {
		n, err := r.Read(buf)
		read = append(read, buf[:n]...)
		if pos := int64(len(read)); pos > 2*dropWindow {
			if n := cachedPages(t, f, pos-2*dropWindow); n > 2 {
				t.Fatalf("at %d MiB, %d pages of the first %d MiB are still cached", pos>>20, n, (pos-2*dropWindow)>>20)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(read, data) {
		t.Fatal("read bytes that are not the file's")
	}
}

// A file in the page cache (just written, say) is read as it is.
func TestReadOnceLeavesCachedFiles(t *testing.T) {
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
	if NewReadOnce(f, int64(len(data))) != nil {
		t.Fatal("a file that is all in the page cache is read once and dropped from it")
	}
}

// A cold file with a page waiting to be written is read as it is: it is
// being written, and will likely be read again.
func TestReadOnceLeavesDirtyFiles(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	p := coldFile(t, data)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("dirty"), 4096*10); err != nil {
		t.Fatal(err)
	}
	if NewReadOnce(f, int64(len(data))) != nil {
		t.Fatal("a file with a dirty page is read once and dropped from the cache")
	}
}
