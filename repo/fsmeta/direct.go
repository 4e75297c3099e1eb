package fsmeta

import (
	"errors"
	"io"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
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
// this project's benchmark machine). So a file that is not in the cache
// is read with O_DIRECT into a buffer of cairn's own; one that is (just
// written, say) is read from the cache as before.

// directAlign is the alignment O_DIRECT asks of offsets, lengths and
// buffers: a page, which covers every logical block size in use.
const directAlign = 4096

// DirectReader reads regions of files, directly from the disk when Direct
// said so. While its caller works on one block, it reads the next one in
// the background (with O_DIRECT there is no kernel read-ahead). It keeps
// two aligned buffers, so a caller holds one reader per goroutine and
// reuses it from file to file; Wait must be called before the file is
// closed.
type DirectReader struct {
	bufs   [2][]byte
	cur    int // the buffer have is in
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

// NewDirectReader returns a reader whose reads from the disk are of up to
// size bytes (rounded up to the alignment).
func NewDirectReader(size int) *DirectReader {
	size = (size + directAlign - 1) &^ (directAlign - 1)
	r := &DirectReader{fd: -1}
	for i := range r.bufs {
		b := make([]byte, size+directAlign)
		skip := 0
		if o := int(uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1)); o != 0 {
			skip = directAlign - o
		}
		r.bufs[i] = b[skip : skip+size : skip+size]
	}
	return r
}

// Direct reports whether f, of size bytes, is better read around the page
// cache, and if so switches it to O_DIRECT: when most of it is not cached
// and none of it waits to be written. Where the kernel cannot tell (no
// cachestat and no mincore) or refuses O_DIRECT, the file stays as it is.
func Direct(f *os.File, size int64) bool {
	fd := int(f.Fd())
	if !cold(fd, size) {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return false
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_DIRECT)
	return err == nil
}

// cold reports whether less than a quarter of the file's first size bytes
// is in the page cache and none is dirty.
func cold(fd int, size int64) bool {
	if size <= 0 {
		return false
	}
	pages := uint64(size+directAlign-1) / directAlign
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
	n := min(size, 256<<20)
	m, err := unix.Mmap(fd, 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return false
	}
	defer unix.Munmap(m)
	vec := make([]byte, (n+int64(os.Getpagesize())-1)/int64(os.Getpagesize()))
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return false
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return in*4 < len(vec)
}

// Reset makes r read [off, off+n) of f, which Direct may have switched to
// O_DIRECT (direct tells), and returns r.
func (r *DirectReader) Reset(f *os.File, off, n int64, direct bool) io.Reader {
	r.Wait()
	*r = DirectReader{bufs: r.bufs, fd: int(f.Fd()), name: f.Name(), direct: direct, pos: off, end: off + n}
	return r
}

// Wait waits for the background read, if one is running: after it, the
// file may be closed.
func (r *DirectReader) Wait() {
	if r.ahead != nil {
		<-r.ahead
		r.ahead = nil
	}
}

// Read hands out what the last read from the file brought, reading on when
// that is used up. It returns io.EOF at the region's end or where the file
// ends before it.
func (r *DirectReader) Read(p []byte) (int, error) {
	if len(r.have) == 0 {
		if r.pos >= r.end {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
		if len(r.have) == 0 {
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
// brought when it read there, else read now. Then it starts the read of
// the block after them.
func (r *DirectReader) fill() error {
	start, want := r.span(r.pos)
	var n int
	var err error
	if r.ahead != nil && r.aheadOff == start {
		res := <-r.ahead
		r.ahead = nil
		r.cur ^= 1
		n, err = res.n, res.err
	} else {
		r.Wait()
		n, err = r.read(r.bufs[r.cur][:want], start)
	}
	if err != nil {
		return &os.PathError{Op: "read", Path: r.name, Err: err}
	}
	skip := r.pos - start
	if int64(n) <= skip {
		r.have = nil
		return nil
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
	return nil
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
