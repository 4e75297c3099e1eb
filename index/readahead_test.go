package index

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of path in the page cache.
func resident(t *testing.T, path string) (in, all int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec)
}

// readAhead brings the whole cache file into memory, not only the
// kernel's readahead window (8 MiB here) that one request gets.
func TestReadAheadWholeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	data := make([]byte, 40<<20)
	rand.Read(data)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Written back, its pages can be dropped from the cache.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	f.Close()
	if in, all := resident(t, path); in > all/2 {
		t.Skipf("this filesystem keeps the file in memory (%d of %d pages after FADV_DONTNEED): nothing to read ahead", in, all)
	}
	readAhead(path)
	deadline := time.Now().Add(10 * time.Second)
	for {
		in, all := resident(t, path)
		if in == all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages in memory 10 s after readAhead", in, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
