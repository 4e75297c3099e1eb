package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

type specialStats struct {
	entries, dirs int
	bytes         int64
	notes         []string
}

// mkdev encodes a Linux device number like glibc's makedev.
func mkdev(major, minor uint64) uint64 {
	return (major&0xfffff000)<<32 | (major&0xfff)<<8 | (minor&0xffffff00)<<12 | minor&0xff
}

// makeSpecials writes everything that is not a plain file under special/:
// symlinks, two hardlink groups, a fifo, a socket, a char and a block
// device (as root), empty directories, empty files, set-id and sticky modes,
// foreign owners (as root), awkward names and extended attributes.
func makeSpecials(root string, p *plan) (*specialStats, error) {
	st := &specialStats{}
	base := filepath.Join(root, "special")
	isRoot := os.Geteuid() == 0
	var mtimes []struct {
		path     string
		t        ts
		nofollow bool
	}
	touch := func(path string, nofollow bool) {
		mtimes = append(mtimes, struct {
			path     string
			t        ts
			nofollow bool
		}{path, p.mtime(), nofollow})
	}
	var dirs []string
	mkdir := func(rel string, mode uint32) error {
		path := filepath.Join(base, rel)
		if err := os.Mkdir(path, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(path, os.FileMode(mode&0o777)|modeBits(mode)); err != nil {
			return err
		}
		dirs = append(dirs, filepath.Join("special", rel))
		st.dirs++
		return nil
	}
	w := newWriter(p.vocab)
	file := func(rel string, mode uint32, size int64, k kind) error {
		path := filepath.Join(base, rel)
		fd, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if size > 0 {
			err = w.content(fd, k, p.r.IntN(len(flavors)), size, p.r.Uint64())
		}
		if cerr := fd.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := os.Chmod(path, os.FileMode(mode&0o777)|modeBits(mode)); err != nil {
			return err
		}
		st.entries++
		st.bytes += size
		touch(path, false)
		return nil
	}
	symlink := func(target, rel string) error {
		path := filepath.Join(base, rel)
		if err := os.Symlink(target, path); err != nil {
			return err
		}
		st.entries++
		touch(path, true)
		return nil
	}

	if err := os.Mkdir(base, 0o755); err != nil {
		return nil, err
	}
	p.dirMT["special"] = p.mtime()
	steps := []func() error{
		// Symlinks: relative, absolute, dangling, to a directory, a chain.
		func() error { return mkdir("files", 0o755) },
		func() error { return file("files/target.txt", 0o644, 3000, kindSource) },
		func() error { return mkdir("links", 0o755) },
		func() error { return symlink("../files/target.txt", "links/relative") },
		func() error { return symlink("/etc/hostname", "links/absolute") },
		func() error { return symlink("does/not/exist", "links/dangling") },
		func() error { return symlink("../files", "links/to-dir") },
		func() error { return symlink("relative", "links/chain") },
		func() error { return symlink(strings.Repeat("long/", 150)+"end", "links/long-target") },
		// Hardlinks: a group of three across directories, and a pair.
		func() error { return mkdir("hardlinks", 0o755) },
		func() error { return mkdir("hardlinks/group", 0o755) },
		func() error { return mkdir("hardlinks/other", 0o755) },
		func() error { return file("hardlinks/group/a", 0o644, 10000, kindSource) },
		func() error { return link(base, "hardlinks/group/a", "hardlinks/group/b", st) },
		func() error { return link(base, "hardlinks/group/a", "hardlinks/other/c", st) },
		func() error { return file("hardlinks/pair-x", 0o600, 5000, kindRandom) },
		func() error { return link(base, "hardlinks/pair-x", "hardlinks/pair-y", st) },
		// Fifo and socket.
		func() error {
			path := filepath.Join(base, "fifo")
			if err := syscall.Mkfifo(path, 0o640); err != nil {
				return &os.PathError{Op: "mkfifo", Path: path, Err: err}
			}
			st.entries++
			touch(path, false)
			return nil
		},
		func() error {
			path := filepath.Join(base, "socket")
			if err := makeSocket(path); err != nil {
				return err
			}
			st.entries++
			touch(path, false)
			return nil
		},
		// Device nodes (root only).
		func() error { return mkdir("dev", 0o755) },
		func() error {
			if !isRoot {
				st.notes = append(st.notes, "not root: skipped device nodes and foreign owners")
				return nil
			}
			for _, d := range []struct {
				name         string
				mode         uint32
				major, minor uint64
			}{
				{"dev/null-like", syscall.S_IFCHR | 0o666, 1, 3},
				{"dev/tty-like", syscall.S_IFCHR | 0o620, 4, 1},
				{"dev/loop-like", syscall.S_IFBLK | 0o660, 7, 0},
				{"dev/disk-like", syscall.S_IFBLK | 0o660, 259, 65538}, // large minor
			} {
				path := filepath.Join(base, d.name)
				if err := syscall.Mknod(path, d.mode, int(mkdev(d.major, d.minor))); err != nil {
					if errors.Is(err, syscall.EPERM) {
						st.notes = append(st.notes, "mknod not permitted here: skipped device nodes")
						return nil
					}
					return &os.PathError{Op: "mknod", Path: path, Err: err}
				}
				st.entries++
				touch(path, false)
			}
			return nil
		},
		// Empty directories and files.
		func() error { return mkdir("empty-dir", 0o755) },
		func() error { return mkdir("nested-empty", 0o755) },
		func() error { return mkdir("nested-empty/a", 0o700) },
		func() error { return mkdir("nested-empty/a/b", 0o755) },
		func() error { return file("empty-file", 0o644, 0, kindSource) },
		// Modes.
		func() error { return mkdir("modes", 0o755) },
		func() error { return file("modes/setuid", 0o4755, 2000, kindSource) },
		func() error { return file("modes/setgid", 0o2755, 2000, kindSource) },
		func() error { return file("modes/readonly", 0o444, 2000, kindSource) },
		func() error { return file("modes/private", 0o600, 2000, kindSource) },
		func() error { return file("modes/no-perms", 0o000, 100, kindSource) },
		func() error { return mkdir("modes/sticky-dir", 0o1777) },
		func() error { return mkdir("modes/setgid-dir", 0o2775) },
		func() error { return file("modes/sticky-dir/inside", 0o644, 500, kindSource) },
		// Names.
		func() error { return mkdir("names", 0o755) },
		func() error { return file("names/with space.txt", 0o644, 300, kindSource) },
		func() error { return file("names/ünïcödé-名前-😀.txt", 0o644, 300, kindSource) },
		func() error { return file("names/-leading-dash", 0o644, 300, kindSource) },
		func() error { return file("names/tab\tand\nnewline", 0o644, 300, kindSource) },
		func() error { return file("names/"+strings.Repeat("x", 251)+".txt", 0o644, 300, kindSource) },
		func() error { return file("names/.hidden", 0o644, 300, kindSource) },
		// Extended attributes.
		func() error { return mkdir("xattr", 0o755) },
		func() error { return file("xattr/file", 0o644, 1000, kindSource) },
		func() error {
			path := filepath.Join(base, "xattr/file")
			for _, a := range []struct{ k, v string }{
				{"user.cairn.comment", "benchmark corpus"},
				{"user.cairn.binary", "\x00\x01\x02\xff\xfe"},
				{"user.cairn.empty", ""},
			} {
				if err := syscall.Setxattr(path, a.k, []byte(a.v), 0); err != nil {
					st.notes = append(st.notes, fmt.Sprintf("extended attributes not supported here: %v", err))
					return nil
				}
			}
			return nil
		},
	}
	if isRoot {
		steps = append(steps,
			func() error { return mkdir("owners", 0o755) },
			func() error { return file("owners/user-1000", 0o644, 500, kindSource) },
			func() error { return file("owners/nobody", 0o644, 500, kindSource) },
			func() error { return file("owners/unknown-ids", 0o640, 500, kindSource) },
			func() error { return mkdir("owners/dir-1000", 0o750) },
			func() error {
				for _, o := range []struct {
					rel      string
					uid, gid int
				}{
					{"owners/user-1000", 1000, 1000},
					{"owners/nobody", 65534, 65534},
					{"owners/unknown-ids", 12345, 54321},
					{"owners/dir-1000", 1000, 100},
					{"links/relative", 1000, 1000},
				} {
					if err := os.Lchown(filepath.Join(base, o.rel), o.uid, o.gid); err != nil {
						return err
					}
				}
				return nil
			},
		)
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	for _, m := range mtimes {
		if err := setMtime(m.path, m.t, m.nofollow); err != nil {
			return nil, err
		}
	}
	for _, d := range dirs {
		p.dirMT[d] = p.mtime()
	}
	return st, nil
}

// modeBits converts set-id and sticky bits from the Unix layout to Go's.
func modeBits(m uint32) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func link(base, from, to string, st *specialStats) error {
	if err := os.Link(filepath.Join(base, from), filepath.Join(base, to)); err != nil {
		return err
	}
	st.entries++
	return nil
}

// makeSocket leaves a Unix socket file at path. It binds a relative name
// from inside the directory, since socket paths are limited to 107 bytes.
func makeSocket(path string) error {
	dir, name := filepath.Split(path)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: name})
	if cerr := os.Chdir(wd); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "bind", Path: path, Err: err}
	}
	return syscall.Chmod(path, 0o755)
}
