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
		t.Skipf("cachestat: %v", err)
	}
	return cs.Cache
}

// isExt4 reports whether path is on ext4, which takes O_DIRECT: there
// Direct must choose it for a cold file.
func isExt4(t *testing.T, path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.EXT4_SUPER_MAGIC
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
	if !direct && isExt4(t, p) {
		t.Fatal("a cold file on ext4 is not read with O_DIRECT")
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
	r := NewDirectReader(64 << 10)
	type region struct{ off, n int64 }
	regions := []region{{0, size}, {1, 3<<20 + 5}, {4095, 1}, {4096, 4096}, {size - 10, 10}, {0, 0}}
	for range 40 {
		off := rng.Int64N(size)
		regions = append(regions, region{off, rng.Int64N(size - off + 1)})
	}
	for _, rg := range regions {
		got, err := io.ReadAll(r.Reset(f, rg.off, rg.n, direct))
		if err != nil {
			t.Fatalf("region %+v: %v", rg, err)
		}
		if !bytes.Equal(got, data[rg.off:rg.off+rg.n]) {
			t.Fatalf("region %+v: read %d bytes, not the file's", rg, len(got))
		}
	}
	// A region past the end (the file shrank since its size was taken)
	// ends where the file does.
	got, err := io.ReadAll(r.Reset(f, size-100, 1<<20, direct))
	if err != nil || !bytes.Equal(got, data[size-100:]) {
		t.Fatalf("region past the end: %d bytes, %v", len(got), err)
	}
	// Reading half a region and moving on leaves no read behind that
	// could outlive the file.
	rd := r.Reset(f, 0, size, direct)
	if _, err := io.ReadFull(rd, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	if r.ahead != nil {
		t.Fatal("a read is still running after Wait")
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
