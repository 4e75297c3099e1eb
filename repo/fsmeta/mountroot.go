package fsmeta

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MountRootAt says name in the folder open at dirfd is where another
// filesystem is mounted (or a bind mount): statx's STATX_ATTR_MOUNT_ROOT,
// or, on a kernel without it, a device other than the folder's.
func MountRootAt(dirfd int, name string) bool {
	var stx unix.Statx_t
	for {
		err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE, &stx)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		break
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
	}
	if stx.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false
	}
	var parent unix.Stat_t
	if unix.Fstatat(dirfd, name+"/..", &parent, 0) != nil {
		return false
	}
	return uint64(parent.Dev) != unix.Mkdev(stx.Dev_major, stx.Dev_minor)
}

// MountRoot says path is where another filesystem is mounted (see
// MountRootAt).
func MountRoot(path string) bool {
	p, err := shortenLong(path)
	if err != nil {
		return false
	}
	defer p.close()
	return MountRootAt(unix.AT_FDCWD, p.name)
}

// MountBelow says another filesystem is mounted somewhere strictly below
// the folder path (as /proc/self/mountinfo lists them): removing the
// folder would go into it.
func MountBelow(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	prefix := strings.TrimSuffix(real, "/") + "/"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := UnescapeMountinfo(f[4]); strings.HasPrefix(mp, prefix) {
			return true
		}
	}
	return false
}

// UnescapeMountinfo undoes the octal escapes of a path in
// /proc/self/mountinfo (\040 for a space).
func UnescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				out = append(out, byte(n))
				i += 3
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}
