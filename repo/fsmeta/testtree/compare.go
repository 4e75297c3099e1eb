package testtree

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// CompareOptions select the checks that not every copy can pass.
type CompareOptions struct {
	// ATime compares atimes of everything but symlinks: reading a
	// symlink's target (which any copier must) updates its atime on a
	// relatime mount, and no O_NOATIME exists for readlink.
	ATime bool
	// Sparse requires each regular file in dst to use no more than 64 KiB
	// of disk blocks beyond its source, so holes stayed holes.
	Sparse bool
}

// sparseSlack is the allocation a restored file may exceed its source by.
const sparseSlack = 64 << 10

// Compare walks the trees at src and dst and returns their differences,
// one readable line each, sorted; none means equal. It compares the set of
// paths, and for each path its kind, mode bits (setuid, setgid, sticky
// included; not for symlinks, which have none), uid, gid, mtime to the
// nanosecond (symlinks and src and dst themselves included), atime when
// opt.ATime, size and bytes of regular files, symlink targets, device
// major and minor, every xattr by name and value, nlink, and the hardlink
// partition: the paths sharing an inode in src must share one in dst, and
// no others. It never compares ctime, device or inode numbers. I/O errors
// fail tb.
//
// Compare opens files and directories with O_NOATIME, so it does not
// disturb the atimes it compares and may run repeatedly.
func Compare(tb testing.TB, src, dst string, opt CompareOptions) []string {
	tb.Helper()
	a, b := scan(tb, src), scan(tb, dst)
	var diffs []string
	add := func(rel, format string, args ...any) {
		diffs = append(diffs, fmt.Sprintf("%q: ", rel)+fmt.Sprintf(format, args...))
	}
	for _, rel := range slices.Sorted(maps.Keys(a)) {
		if _, ok := b[rel]; !ok {
			add(rel, "only in src")
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(b)) {
		ea, ok := a[rel]
		if !ok {
			add(rel, "only in dst")
			continue
		}
		compareEntry(rel, ea, b[rel], opt, add)
		sa, sb := &ea.st, &b[rel].st
		if opt.Sparse && isReg(sa) && isReg(sb) && sb.Blocks*512 > sa.Blocks*512+sparseSlack {
			add(rel, "sparse: %d bytes allocated in src, %d in dst", sa.Blocks*512, sb.Blocks*512)
		}
		if isReg(sa) && isReg(sb) && sa.Size == sb.Size {
			if off := firstDiff(tb, src, dst, rel); off >= 0 {
				add(rel, "content differs at byte %d", off)
			}
		}
	}
	diffs = append(diffs, compareLinks(a, b)...)
	slices.Sort(diffs)
	return diffs
}

func isReg(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFREG }

// compareEntry adds the differences of one path's attributes.
func compareEntry(rel string, ea, eb *entry, opt CompareOptions, add func(string, string, ...any)) {
	sa, sb := &ea.st, &eb.st
	if fa, fb := sa.Mode&unix.S_IFMT, sb.Mode&unix.S_IFMT; fa != fb {
		add(rel, "type %#o in src, %#o in dst", fa, fb)
		return
	}
	link := sa.Mode&unix.S_IFMT == unix.S_IFLNK
	if ma, mb := sa.Mode&0o7777, sb.Mode&0o7777; !link && ma != mb {
		add(rel, "mode %#o in src, %#o in dst", ma, mb)
	}
	if sa.Uid != sb.Uid || sa.Gid != sb.Gid {
		add(rel, "owner %d:%d in src, %d:%d in dst", sa.Uid, sa.Gid, sb.Uid, sb.Gid)
	}
	if ma, mb := sa.Mtim.Nano(), sb.Mtim.Nano(); ma != mb {
		add(rel, "mtime %d in src, %d in dst", ma, mb)
	}
	if aa, ab := sa.Atim.Nano(), sb.Atim.Nano(); opt.ATime && !link && aa != ab {
		add(rel, "atime %d in src, %d in dst", aa, ab)
	}
	if isReg(sa) && sa.Size != sb.Size {
		add(rel, "size %d in src, %d in dst", sa.Size, sb.Size)
	}
	if ea.target != eb.target {
		add(rel, "symlink target %q in src, %q in dst", ea.target, eb.target)
	}
	if t := sa.Mode & unix.S_IFMT; (t == unix.S_IFCHR || t == unix.S_IFBLK) && sa.Rdev != sb.Rdev {
		add(rel, "device %d:%d in src, %d:%d in dst",
			unix.Major(sa.Rdev), unix.Minor(sa.Rdev), unix.Major(sb.Rdev), unix.Minor(sb.Rdev))
	}
	if sa.Nlink != sb.Nlink {
		add(rel, "nlink %d in src, %d in dst", sa.Nlink, sb.Nlink)
	}
	for _, name := range slices.Sorted(maps.Keys(ea.xattrs)) {
		vb, ok := eb.xattrs[name]
		switch {
		case !ok:
			add(rel, "xattr %s only in src", name)
		case !bytes.Equal(ea.xattrs[name], vb):
			add(rel, "xattr %s is %q in src, %q in dst", name, clip(ea.xattrs[name]), clip(vb))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(eb.xattrs)) {
		if _, ok := ea.xattrs[name]; !ok {
			add(rel, "xattr %s only in dst", name)
		}
	}
}

// clip shortens an xattr value for a message.
func clip(v []byte) []byte {
	if len(v) > 48 {
		return append(v[:48:48], "..."...)
	}
	return v
}

// compareLinks reports every non-directory whose hardlink group (the paths
// sharing its inode) differs between the trees.
func compareLinks(a, b map[string]*entry) []string {
	ga, gb := linkGroups(a), linkGroups(b)
	var diffs []string
	for _, rel := range slices.Sorted(maps.Keys(ga)) {
		la, lb := ga[rel], gb[rel]
		if lb == nil || slices.Equal(la, lb) {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("%q: hardlinked with %q in src, %q in dst", rel, others(la, rel), others(lb, rel)))
	}
	return diffs
}

// linkGroups maps each non-directory path to the sorted paths sharing its
// inode, itself included.
func linkGroups(m map[string]*entry) map[string][]string {
	type key struct{ dev, ino uint64 }
	byInode := map[key][]string{}
	for rel, e := range m {
		if e.st.Mode&unix.S_IFMT != unix.S_IFDIR {
			k := key{e.st.Dev, e.st.Ino}
			byInode[k] = append(byInode[k], rel)
		}
	}
	out := map[string][]string{}
	for _, group := range byInode {
		slices.Sort(group)
		for _, rel := range group {
			out[rel] = group
		}
	}
	return out
}

func others(group []string, rel string) []string {
	return slices.DeleteFunc(slices.Clone(group), func(s string) bool { return s == rel })
}
