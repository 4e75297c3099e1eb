package fsmeta

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Prefetch brings a file that is not in memory into the page cache.
func TestPrefetch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Written back, its pages can be dropped from the cache.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	resident := func() int {
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			t.Fatal(e)
		}
		in := 0
		for _, v := range vec {
			in += int(v & 1)
		}
		return in
	}
	if in := resident(); in > len(vec)/2 {
		t.Skipf("this filesystem keeps the file in memory (%d of %d pages after FADV_DONTNEED)", in, len(vec))
	}
	Prefetch(path, int64(len(data)))
	for deadline := time.Now().Add(10 * time.Second); resident() < len(vec); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages in memory 10 s after Prefetch", resident(), len(vec))
		}
	}
}
