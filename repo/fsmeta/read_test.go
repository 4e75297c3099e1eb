package fsmeta_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

const mib = 1 << 20

// TestDataExtents lays out holes with pwrite and ftruncate and expects
// exactly the written regions back (ext4 and tmpfs have 4 KiB blocks).
func TestDataExtents(t *testing.T) {
	type region struct{ off, n int64 }
	cases := []struct {
		name string
		size int64    // file size
		data []region // written regions
		ask  int64    // size passed to DataExtents
		want []fsmeta.Extent
	}{
		{"empty", 0, nil, 0, nil},
		{"dense", 10000, []region{{0, 10000}}, 10000, []fsmeta.Extent{{0, 10000}}},
		{"hole-middle", 34 * mib, []region{{0, mib}, {33 * mib, mib}}, 34 * mib,
			[]fsmeta.Extent{{0, mib}, {33 * mib, mib}}},
		{"hole-start", 16*mib + 4096, []region{{16 * mib, 4096}}, 16*mib + 4096,
			[]fsmeta.Extent{{16 * mib, 4096}}},
		{"hole-end", 8 * mib, []region{{0, mib / 2}}, 8 * mib, []fsmeta.Extent{{0, mib / 2}}},
		{"all-hole", 64 * mib, nil, 64 * mib, nil},
		{"clamped", 34 * mib, []region{{0, mib}, {33 * mib, mib}}, 33*mib + 100,
			[]fsmeta.Extent{{0, mib}, {33 * mib, 100}}},
		{"clamped-in-hole", 34 * mib, []region{{0, mib}, {33 * mib, mib}}, 2 * mib,
			[]fsmeta.Extent{{0, mib}}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			f, err := os.Create(p)
			must(t, err)
			defer f.Close()
			for _, r := range c.data {
				_, err := f.WriteAt(make([]byte, r.n), r.off) // zeros written are still data
				must(t, err)
			}
			must(t, f.Truncate(c.size))
			got, err := fsmeta.DataExtents(f, c.ask)
			must(t, err)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("DataExtents = %v, want %v", got, c.want)
			}
		})
	}
}

// TestOpenRead reads a file without changing its atime, and refuses
// symlinks, fifos (without blocking) and directories.
func TestOpenRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "file")
	must(t, os.WriteFile(p, []byte("content"), 0o644))
	setTimes(t, p, nsA, nsM) // old enough that relatime would update it
	f, err := fsmeta.OpenRead(p)
	must(t, err)
	// Blocking, and still without atime updates (the file is ours).
	if fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 || fl&unix.O_NOATIME == 0 {
		t.Errorf("open file's flags %#x, %v: want O_NOATIME without O_NONBLOCK", fl, err)
	}
	b, err := io.ReadAll(f)
	must(t, err)
	must(t, f.Close())
	if string(b) != "content" {
		t.Errorf("read %q", b)
	}
	if at := lstat(t, p).Atim.Nano(); at != nsA {
		t.Errorf("atime changed from %d to %d", int64(nsA), at)
	}

	must(t, unix.Symlink("file", filepath.Join(dir, "link")))
	if _, err := fsmeta.OpenRead(filepath.Join(dir, "link")); !errors.Is(err, unix.ELOOP) {
		t.Errorf("OpenRead(symlink) = %v, want ELOOP", err)
	}
	must(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	if _, err := fsmeta.OpenRead(filepath.Join(dir, "fifo")); !errors.Is(err, fsmeta.ErrNotRegular) {
		t.Errorf("OpenRead(fifo) = %v, want ErrNotRegular", err)
	}
	if _, err := fsmeta.OpenRead(dir); !errors.Is(err, fsmeta.ErrNotRegular) {
		t.Errorf("OpenRead(dir) = %v, want ErrNotRegular", err)
	}
}

// TestReadDirNames lists sorted raw names and leaves the atime alone.
func TestReadDirNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b", "a\xff", "a", "new\nline"} {
		must(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}
	setTimes(t, dir, nsA, nsM)
	names, err := fsmeta.ReadDirNames(dir)
	must(t, err)
	if want := []string{"a", "a\xff", "b", "new\nline"}; !reflect.DeepEqual(names, want) {
		t.Errorf("ReadDirNames = %q, want %q", names, want)
	}
	if at := lstat(t, dir).Atim.Nano(); at != nsA {
		t.Errorf("atime changed from %d to %d", int64(nsA), at)
	}
	if _, err := fsmeta.ReadDirNames(filepath.Join(dir, "b")); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("ReadDirNames(file) = %v, want ENOTDIR", err)
	}
}
