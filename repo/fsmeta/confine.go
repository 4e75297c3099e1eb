package fsmeta

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Confinement to a restore target.
//
// A restore writes into a folder other users or processes may change
// while it runs (a shared /srv, a home folder). A path walk follows every
// symlink on the way, so a folder the restore is filling, swapped for a
// symlink to /etc between two system calls, would send its writes, chowns,
// chmods and xattrs outside the target. Confine registers a root: every
// path strictly below it given to this package is resolved below it, from
// a descriptor opened once, with openat2's RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS for the folders on the way; the system call gets
// "/proc/self/fd/N/NAME" for the parent found, as for a long path (see
// long.go), and its own rule for NAME (lstat, lchown, O_NOFOLLOW...). A
// symlink on the way is an error (ELOOP), never followed.
//
// The folders found are kept open (a few dozen, the most recently used):
// a restore makes several calls for each entry of a folder, and resolving
// the folder for each would take five more system calls per call (a
// restore of the benchmark corpus made 914,000 instead of 241,000, and
// took 40% more CPU). A folder kept open is the one found below the
// target through no symlink: renamed or swapped afterwards, it is still
// that folder, so nothing is ever reached through a symlink. One this
// package removes or renames is forgotten (forgetConfined).

type root struct {
	path string // clean
	fd   int    // O_PATH

	mu   sync.Mutex
	dirs map[string]*heldDir // by path relative to the root ("" itself)
	max  int                 // how many folders it keeps open when not in use (heldDirsFor)
	gone bool                // released: nothing more is kept
	// opening: the folders being looked up now, unlocked; one that
	// forgetConfined forgets meanwhile is marked stale, and not kept.
	opening []*opening
	// twin: the same folder spelt the other way (absolute or as given),
	// whose folders are forgotten with this one's.
	twin *root
}

type opening struct {
	dir   string
	stale bool
}

// heldDir is a folder below a confined root, open (O_PATH) for the calls
// naming entries in it; refs counts the calls using it now. One dropped
// from the map while in use (dead) is closed by the last of them.
type heldDir struct {
	fd, refs int
	dead     bool
}

// heldDirsMax is how many folders a root keeps open when not in use, at
// most: fewer under a low limit of open files (heldDirsFor).
const heldDirsMax = 64

// heldDirsFor is how many folders a root keeps open under a limit of
// nofile open files: a 32nd of it (a target given as a relative path has
// two roots), from 2 to heldDirsMax. The folders are only a cache, and a
// restore also needs descriptors for the files it writes: under `ulimit
// -n 64` the 64 kept (twice, for a relative target) took every descriptor
// and thousands of files failed with "too many open files".
func heldDirsFor(nofile uint64) int {
	return int(min(max(nofile/32, 2), heldDirsMax))
}

// heldDirsNow is heldDirsFor the process's current limit.
func heldDirsNow() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return heldDirsMax
	}
	return heldDirsFor(rl.Cur)
}

var (
	confinedN  atomic.Int32
	confinedMu sync.RWMutex
	confined   []*root
)

// Confine makes every path strictly below dir resolved below it, never
// through a symlink, until release is called. dir itself is opened now
// (it must exist) and that folder is the one kept, whatever its name
// leads to later.
//
// Without /proc (a rescue system's chroot that did not mount it) nothing
// can be confined: Confine then returns ErrNoProc and a release that does
// nothing, and the caller decides whether to go on unconfined.
func Confine(dir string) (release func(), err error) {
	if !procFD() {
		return func() {}, ErrNoProc
	}
	clean := filepath.Clean(dir)
	abs, err := filepath.Abs(clean)
	if err != nil {
		return nil, err
	}
	fd, err := Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &pathErr{op: "open", path: dir, err: err}
	}
	keep := heldDirsNow()
	roots := []*root{{path: clean, fd: fd, dirs: map[string]*heldDir{}, max: keep}}
	if abs != clean {
		// Both spellings: callers give paths as the target was given.
		nfd, err := unix.Dup(fd)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		unix.CloseOnExec(nfd)
		roots = append(roots, &root{path: abs, fd: nfd, dirs: map[string]*heldDir{}, max: keep, twin: roots[0]})
		roots[0].twin = roots[1]
	}
	confinedMu.Lock()
	confined = append(confined, roots...)
	confinedN.Store(int32(len(confined)))
	confinedMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			confinedMu.Lock()
			for _, r := range roots {
				for i, c := range confined {
					if c == r {
						confined = append(confined[:i], confined[i+1:]...)
						break
					}
				}
				unix.Close(r.fd)
				r.mu.Lock()
				r.gone = true
				for k, d := range r.dirs {
					r.drop(k, d)
				}
				r.mu.Unlock()
			}
			confinedN.Store(int32(len(confined)))
			confinedMu.Unlock()
		})
	}, nil
}

// ErrNoProc: /proc is not mounted, so paths cannot be confined (Confine).
var ErrNoProc = errors.New("/proc is not mounted")

// symlinkOnWay is the error for a path below a confined root with a
// symlink (or a folder swapped for one) on the way: errors.Is finds
// unix.ELOOP in it, but it is no failure of the filesystem.
type symlinkOnWay struct{}

func (symlinkOnWay) Error() string {
	return "a folder on the way is a symlink (replaced while restoring?): not followed"
}
func (symlinkOnWay) Is(target error) bool { return target == unix.ELOOP }

type pathErr struct {
	op, path string
	err      error
}

func (e *pathErr) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
func (e *pathErr) Unwrap() error { return e.err }

// direct says path can be given to a system call as it is: short, and
// below no confined root.
func direct(path string) bool {
	return len(path) < unix.PathMax && (confinedN.Load() == 0 || !isConfined(path))
}

func isConfined(path string) bool {
	confinedMu.RLock()
	defer confinedMu.RUnlock()
	for _, r := range confined {
		if under(path, r.path) {
			return true
		}
	}
	return false
}

func under(path, dir string) bool {
	switch dir {
	case "/":
		return len(path) > 1 && path[0] == '/'
	case ".":
		// The target given as ".": every relative path but those
		// going up from it.
		return path != "" && path[0] != '/' && path != "." && path != ".." && !strings.HasPrefix(path, "../")
	}
	return len(path) > len(dir)+1 && strings.HasPrefix(path, dir) && path[len(dir)] == '/'
}

// relTo is path (under dir) relative to dir, with no slash at either end.
func relTo(path, dir string) string {
	if dir != "/" && dir != "." {
		path = path[len(dir):]
	}
	return strings.Trim(path, "/")
}

// shortenConfined returns the stand-in name for path when it is below a
// confined root; ok false when it is not.
func shortenConfined(path string) (p sysPath, ok bool, err error) {
	if confinedN.Load() == 0 {
		return sysPath{}, false, nil
	}
	confinedMu.RLock()
	var r *root
	for _, c := range confined {
		if under(path, c.path) && (r == nil || len(c.path) > len(r.path)) {
			r = c
		}
	}
	if r == nil {
		confinedMu.RUnlock()
		return sysPath{}, false, nil
	}
	rel := relTo(path, r.path)
	dir, base := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, base = rel[:i], rel[i+1:]
	}
	if base == ".." {
		// The folder above the one found, which may be the target's
		// parent, or anywhere a folder below it was moved to: refused,
		// as RESOLVE_BENEATH refuses a ".." that leaves the target.
		confinedMu.RUnlock()
		return sysPath{}, true, unix.EXDEV
	}
	// Under the read lock the root stays open (release takes the lock).
	d, err := r.hold(dir)
	confinedMu.RUnlock()
	if err == unix.ELOOP {
		err = symlinkOnWay{}
	}
	if err != nil {
		return sysPath{}, true, err
	}
	return sysPath{name: "/proc/self/fd/" + strconv.Itoa(d.fd) + "/" + base, held: d, root: r}, true, nil
}

// hold returns the folder dir below r, open, counted as in use until
// release. The caller holds confinedMu's read lock.
func (r *root) hold(dir string) (*heldDir, error) {
	r.mu.Lock()
	if d := r.dirs[dir]; d != nil {
		d.refs++
		r.mu.Unlock()
		return d, nil
	}
	op := &opening{dir: dir}
	r.opening = append(r.opening, op)
	r.mu.Unlock()
	var fd int
	var err error
	if dir == "" {
		if fd, err = unix.Dup(r.fd); err == nil {
			unix.CloseOnExec(fd)
		}
	} else {
		fd, err = openBeneath(r.fd, dir)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, o := range r.opening {
		if o == op {
			r.opening = append(r.opening[:i], r.opening[i+1:]...)
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if d := r.dirs[dir]; d != nil { // found by another call meanwhile
		unix.Close(fd)
		d.refs++
		return d, nil
	}
	d := &heldDir{fd: fd, refs: 1}
	if r.gone || op.stale {
		// Released, or dir (or a folder on the way) renamed or
		// removed while it was looked up: fd may be the folder
		// forgotten. Used by this call only, closed by its release.
		d.dead = true
		return d, nil
	}
	if len(r.dirs) >= r.max {
		for k, x := range r.dirs {
			if x.refs == 0 {
				r.drop(k, x)
			}
		}
	}
	r.dirs[dir] = d
	return d, nil
}

// release ends a call's use of d.
func (r *root) release(d *heldDir) {
	r.mu.Lock()
	d.refs--
	if d.dead && d.refs == 0 {
		unix.Close(d.fd)
	}
	r.mu.Unlock()
}

// drop forgets the folder k; it is closed now, or by the last call using
// it. r.mu is held.
func (r *root) drop(k string, d *heldDir) {
	delete(r.dirs, k)
	if d.refs == 0 {
		unix.Close(d.fd)
	} else {
		d.dead = true
	}
}

// forgetConfined forgets the folders kept open at path and below it, once
// path was removed or renamed: a folder made later at that name is
// another.
func forgetConfined(path string) {
	if confinedN.Load() == 0 {
		return
	}
	confinedMu.RLock()
	defer confinedMu.RUnlock()
	for _, r := range confined {
		if !under(path, r.path) {
			continue
		}
		rel := relTo(path, r.path)
		r.forget(rel)
		if r.twin != nil {
			r.twin.forget(rel)
		}
	}
}

// forget forgets the folders kept open at rel and below it.
func (r *root) forget(rel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.opening {
		if o.dir == rel || strings.HasPrefix(o.dir, rel+"/") {
			o.stale = true
		}
	}
	for k, d := range r.dirs {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			r.drop(k, d)
		}
	}
}

// noOpenat2 makes OpenBeneath walk one name at a time, as without
// openat2 (for tests).
var noOpenat2 bool

// openBeneath opens the folder rel below dirfd (O_PATH), through no
// symlink and never above dirfd.
func openBeneath(dirfd int, rel string) (int, error) {
	return OpenBeneath(dirfd, rel, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
}

// OpenBeneath opens the folder rel ("" or "." for dirfd's own) below
// dirfd with flags (O_PATH or O_RDONLY, with O_DIRECTORY), through no
// symlink and never above dirfd: with openat2 where the kernel has it
// (and no seccomp filter refuses it), else one name at a time.
func OpenBeneath(dirfd int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	if len(rel) < unix.PathMax && !noOpenat2 {
		for {
			fd, err := unix.Openat2(dirfd, rel, &how)
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			// ENOSYS: no openat2 (before Linux 5.6); EPERM: a
			// seccomp filter that refuses it (container runtimes
			// before 2020).
			if err != unix.ENOSYS && err != unix.EPERM {
				return fd, err
			}
			break
		}
	}
	// No openat2, or a path too long for one call: one name at a time,
	// the folders on the way with O_PATH, the last one with flags.
	var names []string
	for _, name := range strings.Split(rel, "/") {
		if name == ".." {
			return -1, unix.EXDEV
		}
		if name != "" && name != "." {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		if flags&unix.O_PATH != 0 {
			return unix.Dup(dirfd)
		}
		return openat(dirfd, ".", flags)
	}
	fd := -1
	for i, name := range names {
		from := dirfd
		if fd >= 0 {
			from = fd
		}
		fl := unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC
		if i == len(names)-1 {
			fl = flags
		}
		nfd, err := openat(from, name, fl|unix.O_NOFOLLOW)
		if err != nil && (err == unix.ENOTDIR || err == unix.ELOOP) {
			// O_NOFOLLOW|O_PATH opens a symlink itself; O_DIRECTORY
			// then refuses it: say what openat2 would.
			var st unix.Stat_t
			if unix.Fstatat(from, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}
