package fsmeta

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/bufpool"
)

// Reading around the page cache.
//
// A backup reads most of its data once, cold. Read through the page cache,
// every page of it is allocated, filled and kept until memory is wanted
// for something else, pushing out what the machine's own programs had
// cached. On a virtual machine whose host takes back free memory (free page
// reporting), allocating those pages is also the largest part of the
// kernel's time: reading a 300 MiB file cold took 0.46-0.48 s of system
// time buffered and 0.02 s with O_DIRECT, and less wall time too (dd,
// this project's benchmark machine). So a large file on a local disk
// (ext4, xfs) that is not in the cache is read with O_DIRECT into buffers
// of cairn's own; one that is (just written, say) is read from the cache
// as before, and so is every file on a network or FUSE filesystem, whose
// client's read-ahead is worth more than the cache.

// directAlign is the alignment O_DIRECT asks of offsets, lengths and
// buffers: a page, which covers every logical block size in use.
const directAlign = 4096

// DirectReader reads a region of a file, directly from the disk when
// Direct said so. While its caller works on one block, it reads the next
// one in the background (with O_DIRECT there is no kernel read-ahead),
// into the second of its two aligned buffers, which come from bufpool and
// go back with Close. Close must be called before the file is closed.
type DirectReader struct {
	raw    [2][]byte // from bufpool, as taken
	bufs   [2][]byte // aligned parts of raw
	cur    int       // the buffer have is in
	fd     int
	name   string
	direct bool
	pos    int64  // the next byte to hand out
	end    int64  // the region's end
	have   []byte // bytes read from pos on, not yet handed out
	// ahead is the read of the block at aheadOff into the other buffer,
	// running in the background; nil when there is none.
	ahead    chan readResult
	aheadOff int64
}

type readResult struct {
	n   int
	err error
}

// NewDirectReader returns a reader of f, which Direct may have switched to
// O_DIRECT (direct tells), whose reads from the disk are of up to size
// bytes (rounded up to the alignment). Reset points it at a region.
func NewDirectReader(f *os.File, direct bool, size int) *DirectReader {
	size = (size + directAlign - 1) &^ (directAlign - 1)
	r := &DirectReader{fd: int(f.Fd()), name: f.Name(), direct: direct}
	for i := range r.bufs {
		b := bufpool.Get(size + directAlign)[:size+directAlign]
		skip := 0
		if o := int(uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1)); o != 0 {
			skip = directAlign - o
		}
		r.raw[i], r.bufs[i] = b, b[skip:skip+size:skip+size]
	}
	return r
}

// Close waits for the background read, if one is running, and hands the
// buffers back. The reader is not used again.
func (r *DirectReader) Close() {
	r.wait()
	for i := range r.raw {
		if r.raw[i] != nil {
			bufpool.Put(r.raw[i])
			r.raw[i], r.bufs[i] = nil, nil
		}
	}
}

// Direct reports whether f, of size bytes, is better read around the page
// cache, and if so switches it to O_DIRECT: a file on ext4 or xfs, most
// of which is not cached and none of which waits to be written. Where the kernel cannot tell (no cachestat and no mincore) or
// refuses O_DIRECT, the file stays as it is.
func Direct(f *os.File, size int64) bool {
	fd := int(f.Fd())
	if !localDisk(fd) || !cold(fd, size) {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_DIRECT)
	return err == nil
}

// localDisk reports whether fd's filesystem is one of the local disk
// filesystems O_DIRECT is known to serve well: ext4 and xfs. Network and
// FUSE filesystems read ahead on their own and lose that with O_DIRECT;
// tmpfs has no disk to go around; btrfs, tried on a loop device, read
// part of a cold file through the page cache all the same (its own
// fallback), so there O_DIRECT only added a copy.
func localDisk(fd int) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) != nil {
		return false
	}
	return directFS(st.Type)
}

// OnLocalDisk reports whether path is on a filesystem whose cold files
// Direct reads around the page cache (ext4, xfs).
func OnLocalDisk(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, err
	}
	return directFS(st.Type), nil
}

func directFS(typ int64) bool {
	switch uint32(typ) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC:
		return true
	}
	return false
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
	// cannot see dirty pages; an O_DIRECT read writes those out first).
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

// Reset makes r read [off, off+n) of its file, and returns r.
func (r *DirectReader) Reset(off, n int64) io.Reader {
	r.wait()
	r.cur, r.pos, r.end, r.have = 0, off, off+n, nil
	return r
}

// wait waits for the background read, if one is running.
func (r *DirectReader) wait() {
	if r.ahead != nil {
		<-r.ahead
		r.ahead = nil
	}
}

// Read hands out what the last read from the file brought, reading on when
// that is used up. It returns io.EOF at the region's end or where the file
// ends before it.
func (r *DirectReader) Read(p []byte) (int, error) {
	for len(r.have) == 0 {
		if r.pos >= r.end {
			return 0, io.EOF
		}
		eof, err := r.fill()
		if err != nil {
			return 0, err
		}
		if eof {
			r.end = r.pos // the file ends here
			return 0, io.EOF
		}
	}
	n := copy(p, r.have)
	r.have = r.have[n:]
	r.pos += int64(n)
	return n, nil
}

// span is the aligned read that holds pos: from the aligned offset at or
// before it, as much as a buffer holds and the region wants.
func (r *DirectReader) span(pos int64) (start, want int64) {
	start = pos &^ (directAlign - 1)
	return start, min(int64(len(r.bufs[0])), (r.end-start+directAlign-1)&^(directAlign-1))
}

// fill makes have the bytes from pos on: those the background read
// brought when it read there, else read now; then it starts the read of
// the block after them. It reports the end of the file: a read that ends
// at or before pos. On the local disk filesystems Direct chooses, a read
// is short only at the end of the file.
func (r *DirectReader) fill() (eof bool, err error) {
	start, want := r.span(r.pos)
	var n int
	if r.ahead != nil && r.aheadOff == start {
		res := <-r.ahead
		r.ahead = nil
		r.cur ^= 1
		n, err = res.n, res.err
	} else {
		r.wait()
		n, err = r.read(r.bufs[r.cur][:want], start)
	}
	if err != nil {
		return false, &os.PathError{Op: "read", Path: r.name, Err: err}
	}
	skip := r.pos - start
	if int64(n) <= skip {
		return true, nil
	}
	r.have = r.bufs[r.cur][skip:min(int64(n), r.end-start)]
	if next := start + int64(n); int64(n) == want && next < r.end {
		nstart, nwant := r.span(next)
		buf := r.bufs[r.cur^1][:nwant]
		ch := make(chan readResult, 1)
		r.ahead, r.aheadOff = ch, nstart
		go func() {
			n, err := r.read(buf, nstart)
			ch <- readResult{n, err}
		}()
	}
	return false, nil
}

// read reads b at off, going on through the page cache when the
// filesystem took O_DIRECT at open but refuses it for the read.
func (r *DirectReader) read(b []byte, off int64) (int, error) {
	n, err := pread(r.fd, b, off)
	if errors.Is(err, unix.EINVAL) && r.direct {
		if fl, ferr := unix.FcntlInt(uintptr(r.fd), unix.F_GETFL, 0); ferr == nil {
			if _, ferr = unix.FcntlInt(uintptr(r.fd), unix.F_SETFL, fl&^unix.O_DIRECT); ferr == nil {
				n, err = pread(r.fd, b, off)
			}
		}
	}
	return n, err
}

func pread(fd int, b []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}
