package fsmeta

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading a large file once.
//
// A backup reads most of its data once, cold. Left to itself the kernel
// keeps every page of it until memory is wanted for something else,
// pushing out what the machine's own programs had cached, and takes fresh
// memory for each new page. So a large file that is not in the page cache
// is read through a ReadOnce: with the kernel's read-ahead doubled
// (FADV_SEQUENTIAL), and every dropWindow bytes the pages already read are
// handed back (FADV_DONTNEED), so the next reads reuse them; when the file
// is done, whatever is left of it goes too (with the few pages that were
// cached before: less than a quarter of the file, or it is read as it is).
//
// Earlier, such files were read around the cache with O_DIRECT, 512 KiB
// at a time with one read ahead. On a machine whose disk is fast with deep
// queues that starved the workers: a cold 300 MiB file took 0.42 s with
// dd's 512 KiB O_DIRECT reads against 0.13 s read through the cache (with
// the 8 MiB read-ahead that machine's disk asks for), and a cold ingest
// of the benchmark corpus's large files took 10.5-11.2 s against 9.4-10.5
// s buffered, nine interleaved pairs all one way. The kernel sizes its
// read-ahead to the device; a fixed queue of our own does not.

// dropWindow is how much of a file is read before the pages behind the
// reader are dropped from the cache.
const dropWindow = 8 << 20

// ReadOnce reads regions of a file that is read once, start to end, and
// drops the pages it read from the page cache. Close drops the rest.
type ReadOnce struct {
	f  *os.File
	fd int
}

// NewReadOnce returns a ReadOnce for f, of size bytes, when most of the
// file is not in the page cache and none of it waits to be written; else
// nil, and the file is best read as it is (its pages stay where they
// were). Where the kernel cannot tell (no cachestat and no mincore), nil.
func NewReadOnce(f *os.File, size int64) *ReadOnce {
	fd := int(f.Fd())
	if !cold(fd, size) {
		return nil
	}
	unix.Fadvise(fd, 0, 0, unix.FADV_SEQUENTIAL)
	return &ReadOnce{f: f, fd: fd}
}

// Region returns a reader of [off, off+n) of the file.
func (o *ReadOnce) Region(off, n int64) io.Reader {
	return &onceRegion{fd: o.fd, r: io.NewSectionReader(o.f, off, n), pos: off, dropped: off}
}

// Close drops the file's pages from the cache: those the last window
// left, and any the read-ahead brought beyond the regions read.
func (o *ReadOnce) Close() {
	unix.Fadvise(o.fd, 0, 0, unix.FADV_DONTNEED)
}

type onceRegion struct {
	fd           int
	r            *io.SectionReader
	pos, dropped int64
}

func (r *onceRegion) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.pos += int64(n)
	if r.pos-r.dropped >= dropWindow {
		unix.Fadvise(r.fd, r.dropped, r.pos-r.dropped, unix.FADV_DONTNEED)
		r.dropped = r.pos
	}
	return n, err
}

// cold reports whether less than a quarter of the file's first size bytes
// is in the page cache and none is dirty.
func cold(fd int, size int64) bool {
	if size <= 0 {
		return false
	}
	page := int64(os.Getpagesize())
	pages := uint64((size + page - 1) / page)
	var cs unix.Cachestat_t
	err := unix.Cachestat(uint(fd), &unix.CachestatRange{Off: 0, Len: uint64(size)}, &cs, 0)
	if err == nil {
		return cs.Dirty == 0 && cs.Writeback == 0 && cs.Cache*4 < pages
	}
	if !errors.Is(err, unix.ENOSYS) {
		return false
	}
	// Kernels before 6.5: ask mincore about the first 256 MiB (it
	// cannot see dirty pages, which FADV_DONTNEED leaves alone anyway).
	in, all, err := residentPages(fd, min(size, 256<<20))
	return err == nil && in*4 < all
}

// residentPages counts the pages of fd's first n bytes that are in the
// page cache (mincore of a mapping that is never touched), of all.
func residentPages(fd int, n int64) (in, all int, err error) {
	m, err := unix.Mmap(fd, 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return 0, 0, e
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec), nil
}
