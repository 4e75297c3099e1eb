package fs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/fsmeta"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// need fails under CI (where the machine must have it) and skips
// elsewhere.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s", what)
	}
	t.Skipf("needs %s", what)
}

// requireFUSE checks that this process can mount through the kernel.
func requireFUSE(t *testing.T) {
	t.Helper()
	need(t, os.Geteuid() == 0, "root (devices, owners, trusted xattrs, mounting)")
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	need(t, err == nil, fmt.Sprintf("a usable /dev/fuse (%v)", err))
	f.Close()
}

func requireRsync(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("rsync")
	need(t, err == nil, "rsync (make deps installs it)")
}

// localRepo makes a repository in a local folder and returns it with that
// folder.
func localRepo(t *testing.T) (*repo.Repository, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo.TestRepositoryOn(t, be), dir
}

func ingestPath(t *testing.T, r *repo.Repository, src string, tags ...string) *repo.Snapshot {
	t.Helper()
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s", Tags: tags,
		Warn: func(p string, err error) { t.Errorf("ingest %s: %v", p, err) }})
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return res.Snapshot
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) log(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// mount mounts r in a fresh folder for the rest of the test.
func mount(t *testing.T, r *repo.Repository, opt cfs.Options) (string, *logBuf) {
	t.Helper()
	mnt, logs, _ := mountM(t, r, opt)
	return mnt, logs
}

// mountM is mount, with the mounted tree.
func mountM(t *testing.T, r *repo.Repository, opt cfs.Options) (string, *logBuf, *cfs.Mounted) {
	t.Helper()
	requireFUSE(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	if opt.Log == nil {
		opt.Log = logs.log
	}
	m, err := cfs.Mount(context.Background(), r, mnt, opt)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	// This process serves the mount and reads through it too: if the
	// serving side fails, a reading thread would wait in the kernel for
	// ever and the test binary could never exit. Cut the connection
	// before the test's deadline, or when unmounting fails.
	var st unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil {
		t.Fatal(err)
	}
	abort := func() { abortFUSE(t, unix.Minor(st.Dev)) }
	if dl, ok := t.Deadline(); ok {
		timer := time.AfterFunc(time.Until(dl)-15*time.Second, abort)
		t.Cleanup(func() { timer.Stop() })
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			abort()
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	return mnt, logs, m
}

// abortFUSE aborts the FUSE connection with device minor number minor.
func abortFUSE(t *testing.T, minor uint32) {
	const ctl = "/sys/fs/fuse/connections"
	if ents, _ := os.ReadDir(ctl); len(ents) == 0 {
		exec.Command("mount", "-t", "fusectl", "none", ctl).Run() // not mounted yet
	}
	p := filepath.Join(ctl, fmt.Sprint(minor), "abort")
	if err := os.WriteFile(p, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Logf("abort FUSE connection: %v", err)
	}
}

func rsyncItemize(t *testing.T, src, dst string, extra ...string) string {
	t.Helper()
	args := append([]string{"-aHAXn", "-i", "--numeric-ids", "--delete"}, extra...)
	out, err := exec.Command("rsync", append(args, src+"/", dst+"/")...).CombinedOutput()
	if err != nil {
		t.Fatalf("rsync %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestRsyncFromMount is the acceptance test of the mount: a tree holding
// every kind of entry and attribute, ingested, then compared with the real
// rsync through the kernel's FUSE, and copied out with rsync to a tree
// equal to the source.
func TestRsyncFromMount(t *testing.T) {
	requireFUSE(t)
	requireRsync(t)
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 1)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, logs := mount(t, r, cfs.Options{})
	latest := filepath.Join(mnt, "latest")

	// Through the mount, stat and getxattr say what they said on the
	// source: modes, owners, times (atimes too, before rsync reads the
	// source), sizes, devices, xattrs, nlink and hardlink groups.
	snapDir, err := filepath.EvalSymlinks(latest)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := testtree.Compare(t, src, snapDir, testtree.CompareOptions{ATime: true}); len(diffs) > 0 {
		t.Fatalf("the mounted tree differs from the source:\n%s", firstLines(diffs))
	}

	if out := rsyncItemize(t, src, latest); out != "" {
		t.Fatalf("rsync -aHAXn -i --numeric-ids --delete SRC/ MNT/latest/ lists differences:\n%s", out)
	}
	// The same to the nanosecond.
	if out := rsyncItemize(t, src, latest, "--modify-window=-1"); out != "" {
		t.Fatalf("rsync with nanosecond mtimes lists differences:\n%s", out)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	out, err := exec.Command("rsync", "-aHAX", "--numeric-ids", "--sparse", latest+"/", dst+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("rsync out of the mount: %v\n%s", err, out)
	}
	if diffs := testtree.Compare(t, src, dst, testtree.CompareOptions{Sparse: true}); len(diffs) > 0 {
		t.Fatalf("the tree rsync copied out of the mount differs from the source:\n%s", firstLines(diffs))
	}
	if l := logs.String(); l != "" {
		t.Errorf("mount logged:\n%s", l)
	}
}

// TestSparseFiles checks st_blocks and SEEK_DATA/SEEK_HOLE through the
// mount against the source.
func TestSparseFiles(t *testing.T) {
	requireFUSE(t)
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 2)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, _ := mount(t, r, cfs.Options{})
	rel := testtree.SparseMiddle
	var a, b unix.Stat_t
	if err := unix.Stat(filepath.Join(src, rel), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(mnt, "latest", rel), &b); err != nil {
		t.Fatal(err)
	}
	if b.Size != a.Size || b.Blocks*512 >= b.Size/2 {
		t.Fatalf("sparse file through the mount: size %d blocks %d (source: size %d blocks %d)", b.Size, b.Blocks, a.Size, a.Blocks)
	}
	seeks := func(path string) []string {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []string
		for off := int64(0); off < a.Size; off += 1 << 20 {
			for _, w := range []int{unix.SEEK_DATA, unix.SEEK_HOLE} {
				pos, err := unix.Seek(int(f.Fd()), off, w)
				out = append(out, fmt.Sprintf("%d/%d:%d,%v", off, w, pos, err))
			}
		}
		return out
	}
	sa, sb := seeks(filepath.Join(src, rel)), seeks(filepath.Join(mnt, "latest", rel))
	if strings.Join(sa, " ") != strings.Join(sb, " ") {
		t.Fatalf("SEEK_DATA/SEEK_HOLE differ:\nsource %v\nmount  %v", sa, sb)
	}
}

// TestInodesAndLinks: hardlinks share one inode, nlink counts the links
// inside the snapshot, no inode number is shared between snapshots, and
// folders list "." and "..".
func TestInodesAndLinks(t *testing.T) {
	requireFUSE(t)
	base := t.TempDir()
	src := filepath.Join(base, "src")
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "a"), []byte("group of two"), 0o644)
	os.Link(filepath.Join(src, "a"), filepath.Join(src, "d", "b"))
	os.WriteFile(filepath.Join(src, "c"), []byte("one link inside, one outside"), 0o644)
	os.Link(filepath.Join(src, "c"), filepath.Join(base, "outside"))
	os.WriteFile(filepath.Join(src, "plain"), []byte("x"), 0o644)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	os.WriteFile(filepath.Join(src, "plain"), []byte("changed"), 0o644)
	ingestPath(t, r, src)
	mnt, _ := mount(t, r, cfs.Options{})

	ents, err := os.ReadDir(filepath.Join(mnt, "snapshots"))
	if err != nil || len(ents) != 2 {
		t.Fatalf("snapshots/: %v %v", ents, err)
	}
	inos := map[uint64]string{}
	for _, e := range ents {
		root := filepath.Join(mnt, "snapshots", e.Name())
		st := func(rel string) unix.Stat_t {
			var s unix.Stat_t
			if err := unix.Lstat(filepath.Join(root, rel), &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		a, b, c := st("a"), st("d/b"), st("c")
		if a.Ino != b.Ino || a.Nlink != 2 || b.Nlink != 2 {
			t.Errorf("%s: hardlinks a and d/b: inodes %d %d, nlink %d %d", e.Name(), a.Ino, b.Ino, a.Nlink, b.Nlink)
		}
		if c.Nlink != 1 {
			t.Errorf("%s: c has one link in the snapshot, nlink says %d", e.Name(), c.Nlink)
		}
		for _, rel := range []string{".", "a", "c", "d", "plain"} {
			s := st(rel)
			if other, dup := inos[s.Ino]; dup {
				t.Errorf("inode %d of %s/%s is also %s", s.Ino, e.Name(), rel, other)
			}
			inos[s.Ino] = e.Name() + "/" + rel
		}
		out, err := exec.Command("ls", "-a", root).Output()
		if err != nil || !strings.HasPrefix(string(out), ".\n..\n") {
			t.Errorf("ls -a %s: %q %v", root, out, err)
		}
	}
}

// TestReadOnly: every call that would change the tree answers EROFS.
func TestReadOnly(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644)
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, _ := mount(t, r, cfs.Options{})
	in := func(rel string) string { return filepath.Join(mnt, "latest", rel) }
	calls := map[string]error{
		"create":       os.WriteFile(in("new"), nil, 0o644),
		"write":        os.WriteFile(in("f"), []byte("x"), 0o644),
		"mkdir":        os.Mkdir(in("nd"), 0o755),
		"mkdir at top": os.Mkdir(filepath.Join(mnt, "x"), 0o755),
		"remove":       os.Remove(in("f")),
		"rmdir":        os.Remove(in("d")),
		"rename":       os.Rename(in("f"), in("g")),
		"link":         os.Link(in("f"), in("g")),
		"symlink":      os.Symlink("f", in("g")),
		"chmod":        os.Chmod(in("f"), 0o600),
		"chown":        os.Chown(in("f"), 1, 1),
		"truncate":     os.Truncate(in("f"), 0),
		"utimes":       os.Chtimes(in("f"), time.Now(), time.Now()),
		"setxattr":     unix.Setxattr(in("f"), "user.x", []byte("1"), 0),
		"mknod":        unix.Mknod(in("fifo"), unix.S_IFIFO|0o644, 0),
	}
	for name, err := range calls {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", name, err)
		}
	}
	if b, err := os.ReadFile(in("f")); err != nil || string(b) != "data" {
		t.Fatalf("after all that, f reads %q, %v", b, err)
	}
}

// TestNewSnapshotsAppear: a snapshot written while mounted shows up at a
// later refresh (every 3 s by default), and latest follows it. The wait is
// generous: a loaded machine may be slow to list the repository or to let
// the kernel's cached entries expire.
func TestNewSnapshotsAppear(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("one"), 0o644)
	r, dir := localRepo(t)
	ingestPath(t, r, src, "first")
	mnt, _ := mount(t, r, cfs.Options{})
	if b, err := os.ReadFile(filepath.Join(mnt, "latest", "f")); err != nil || string(b) != "one" {
		t.Fatalf("latest/f = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "tags", "second")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tags/second before it exists: %v", err)
	}

	// Another writer: a second opening of the repository, as another
	// process or host would have.
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Open(context.Background(), be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	os.WriteFile(filepath.Join(src, "f"), []byte("two"), 0o644)
	sn := ingestPath(t, w, src, "second")

	const within = 60 * time.Second
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile(filepath.Join(mnt, "latest", "f"))
		_, terr := os.Stat(filepath.Join(mnt, "tags", "second", "latest", "f"))
		_, ierr := os.Stat(filepath.Join(mnt, "ids", sn.ID.Short(), "f"))
		if err == nil && string(b) == "two" && terr == nil && ierr == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the snapshot: latest/f = %q (%v), tags/second: %v, ids: %v", within, b, err, terr, ierr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ents, _ := os.ReadDir(filepath.Join(mnt, "hosts", "h", "s"))
	if len(ents) != 3 { // two snapshots and latest
		t.Fatalf("hosts/h/s holds %v", ents)
	}
}

// TestRefreshShowsAtOnce: after Refresh, which the daemon calls once it
// has written a snapshot, every virtual folder the kernel has seen shows
// the new snapshot at once, though the kernel had cached its listings,
// entries and attributes (no polling: the kernel must have been told).
func TestRefreshShowsAtOnce(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("one"), 0o644)
	r, _ := localRepo(t)
	ingestPath(t, r, src, "first")
	mnt, _, m := mountM(t, r, cfs.Options{Refresh: time.Hour})
	list := func(dir string) []string {
		ents, err := os.ReadDir(filepath.Join(mnt, dir))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	// Fill the kernel's caches: listings, attributes, the latest links
	// and a negative entry.
	before := list("snapshots")
	list("hosts/h/s")
	list("tags")
	list("")
	if b, err := os.ReadFile(filepath.Join(mnt, "latest", "f")); err != nil || string(b) != "one" {
		t.Fatalf("latest/f = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "tags", "second")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tags/second before it exists: %v", err)
	}

	os.WriteFile(filepath.Join(src, "f"), []byte("two"), 0o644)
	sn := ingestPath(t, r, src, "second")
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := list("snapshots"); len(after) != len(before)+1 {
		t.Errorf("snapshots/ right after Refresh: %v (before: %v)", after, before)
	}
	if got := list("hosts/h/s"); len(got) != 3 {
		t.Errorf("hosts/h/s right after Refresh: %v", got)
	}
	if got := list("tags"); len(got) != 2 {
		t.Errorf("tags/ right after Refresh: %v", got)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "latest", "f")); err != nil || string(b) != "two" {
		t.Errorf("latest/f right after Refresh = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "tags", "second", "latest", "f")); err != nil {
		t.Errorf("tags/second right after Refresh: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "ids", sn.ID.Short(), "f")); err != nil {
		t.Errorf("ids/%s right after Refresh: %v", sn.ID.Short(), err)
	}
}

// TestDamagedPack: a damaged blob fails the reads of its byte range with
// EIO and one log line naming file, snapshot and pack; everything else
// stays readable.
func TestDamagedPack(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	good := bytes.Repeat([]byte("good data "), 1000)
	bad := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{1}).Read(bad)
	os.WriteFile(filepath.Join(src, "good"), good, 0o644)
	os.WriteFile(filepath.Join(src, "bad"), bad, 0o644)
	r, dir := localRepo(t)
	sn := ingestPath(t, r, src)

	// Flip a byte inside the first chunk of "bad".
	n, _, err := restore.Find(context.Background(), r, sn, filepath.Join(src, "bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Content) < 2 {
		t.Fatalf("bad is one chunk; the test needs several")
	}
	loc, ok, err := r.LookupBlob(n.Content[0].ID)
	if err != nil || !ok {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	pack := repo.PackName(loc.Type, loc.Pack)
	f, err := os.OpenFile(filepath.Join(dir, pack), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	f.ReadAt(one[:], int64(loc.Offset)+20)
	one[0] ^= 0xff
	f.WriteAt(one[:], int64(loc.Offset)+20)
	f.Close()

	mnt, logs := mount(t, r, cfs.Options{})
	_, err = os.ReadFile(filepath.Join(mnt, "latest", "bad"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading the damaged file: %v, want EIO", err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "latest", "good")); err != nil || !bytes.Equal(b, good) {
		t.Fatalf("the undamaged file: %d bytes, %v", len(b), err)
	}
	// The rest of the damaged file is readable too.
	f, err = os.Open(filepath.Join(mnt, "latest", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tail := make([]byte, 4096)
	if _, err := f.ReadAt(tail, int64(len(bad))-4096); err != nil || !bytes.Equal(tail, bad[len(bad)-4096:]) {
		t.Fatalf("the undamaged end of the damaged file: %v", err)
	}
	l := logs.String()
	if strings.Count(l, "\n") != 0 || !strings.Contains(l, "latest/bad") && !strings.Contains(l, "/bad") ||
		!strings.Contains(l, sn.ID.Short()) || !strings.Contains(l, pack) {
		t.Fatalf("log should be one line naming the file, snapshot %s and pack %s:\n%s", sn.ID.Short(), pack, l)
	}
}

// flaky is a backend that can be taken down: failing at once, or hanging
// until the caller gives up.
type flaky struct {
	backends.Backend
	mu   sync.Mutex
	mode string // "", "fail" or "hang"
}

func (f *flaky) set(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

func (f *flaky) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	f.mu.Lock()
	mode := f.mode
	f.mu.Unlock()
	switch mode {
	case "fail":
		return nil, fmt.Errorf("connection refused")
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.Backend.Load(ctx, name, off, n)
}

// TestBackendOutage: while the backend is down reads fail with EIO (after
// the read timeout when it hangs), and they work again once it is back.
func TestBackendOutage(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(src, name), bytes.Repeat([]byte(name), 100000), 0o644)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	fb := &flaky{Backend: be}
	r := repo.TestRepositoryOn(t, fb)
	ingestPath(t, r, src)
	mnt, logs := mount(t, r, cfs.Options{ReadTimeout: time.Second})
	// The folder is read first: the outage is the files' data's.
	if _, err := os.ReadDir(filepath.Join(mnt, "latest")); err != nil {
		t.Fatal(err)
	}

	fb.set("fail")
	if _, err := os.ReadFile(filepath.Join(mnt, "latest", "a")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read while the backend fails: %v, want EIO", err)
	}
	fb.set("hang")
	start := time.Now()
	if _, err := os.ReadFile(filepath.Join(mnt, "latest", "b")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read while the backend hangs: %v, want EIO", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("a read of a hanging backend took %v", d)
	}
	fb.set("")
	for _, name := range []string{"a", "b", "c"} {
		b, err := os.ReadFile(filepath.Join(mnt, "latest", name))
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte(name), 100000)) {
			t.Fatalf("after the backend is back, %s: %d bytes, %v", name, len(b), err)
		}
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the outage was not logged:\n%s", logs)
	}
	// The read that waited in vain says what for: the storage, how
	// long, and the pack; not a bare "context deadline exceeded".
	var hung string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "/b ") {
			hung = l
		}
	}
	if !strings.Contains(hung, "waited 1s (the mount's read timeout) for "+be.Location()) || !strings.Contains(hung, "pack data/") {
		t.Errorf("the read of a hanging backend should name the storage, the timeout and the pack:\n%s", logs)
	}
}

// TestPermissions: without --allow-other only the mounting user gets in;
// with it, the kernel applies the stored modes to everyone else.
func TestPermissions(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "public"), []byte("anyone"), 0o644)
	os.WriteFile(filepath.Join(src, "secret"), []byte("root only"), 0o600)
	// The folder t.TempDir makes src in is 0700: open it, or the shared
	// mount rightly shows it, closed, above src. src and public are
	// open whatever the umask.
	os.Chmod(filepath.Dir(src), 0o755)
	os.Chmod(src, 0o755)
	os.Chmod(filepath.Join(src, "public"), 0o644)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	asNobody := func(args ...string) error {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd.Run()
	}
	open := func(mnt string) {
		// Let nobody walk down to the mount point.
		for p := filepath.Dir(mnt); p != "/"; p = filepath.Dir(p) {
			if st, err := os.Stat(p); err == nil {
				os.Chmod(p, st.Mode().Perm()|0o011)
			}
		}
	}

	private, _ := mount(t, r, cfs.Options{})
	open(private)
	if err := asNobody("cat", filepath.Join(private, "latest", "public")); err == nil {
		t.Error("another user read a file through a mount without --allow-other")
	}

	shared, _ := mount(t, r, cfs.Options{AllowOther: true})
	open(shared)
	if err := asNobody("cat", filepath.Join(shared, "latest", "public")); err != nil {
		t.Errorf("another user cannot read a 0644 file with --allow-other: %v", err)
	}
	if err := asNobody("cat", filepath.Join(shared, "latest", "secret")); err == nil {
		t.Error("another user read a 0600 root file with --allow-other")
	}
}

// TestAllowOtherKeepsClosedParents: a snapshot of /home/alice/docs (0755)
// inside a 0700 home used to show docs as the snapshot's folder, so with
// --allow-other any user read through the mount the files no one but alice
// could reach in the source. The shared mount now shows the closed home
// as the snapshot's folder, with its mode, which the kernel applies.
func TestAllowOtherKeepsClosedParents(t *testing.T) {
	requireFUSE(t)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	docs := filepath.Join(base, "home", "alice", "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(base, "home"), 0o755)
	os.Chmod(filepath.Join(base, "home", "alice"), 0o700)
	os.Chmod(docs, 0o755)
	if err := os.WriteFile(filepath.Join(docs, "readme"), []byte("alice's"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Let nobody walk down to base and the mount points.
	for p := filepath.Dir(base); p != "/"; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil {
			os.Chmod(p, st.Mode().Perm()|0o011)
		}
	}
	asNobody := func(args ...string) ([]byte, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd.CombinedOutput()
	}
	if out, err := asNobody("cat", filepath.Join(docs, "readme")); err == nil {
		t.Fatalf("nobody reads the source file (%s): the test cannot tell", out)
	}
	r, _ := localRepo(t)
	ingestPath(t, r, docs)

	shared, _ := mount(t, r, cfs.Options{AllowOther: true})
	for p := filepath.Dir(shared); p != "/"; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil {
			os.Chmod(p, st.Mode().Perm()|0o011)
		}
	}
	latest := filepath.Join(shared, "latest")
	if out, err := asNobody("sh", "-c", `cat "$1"/readme "$1"/docs/readme "$1"/alice/docs/readme`, "sh", latest); err == nil || strings.Contains(string(out), "alice's") {
		t.Errorf("another user read through --allow-other a file the source's 0700 folder kept from them:\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(latest, "docs", "readme")); err != nil || string(b) != "alice's" {
		t.Errorf("the shared mount does not show the home as the snapshot's folder (docs/readme): %q, %v", b, err)
	}
	if fi, err := os.Stat(latest); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the snapshot's folder in the shared mount: %v, %v; want the home's 0700", fi.Mode(), err)
	}

	// Alone, the mounting user gets the shortest folder, as before.
	private, _ := mount(t, r, cfs.Options{})
	if b, err := os.ReadFile(filepath.Join(private, "latest", "readme")); err != nil || string(b) != "alice's" {
		t.Errorf("the private mount does not show docs as the snapshot's folder: %q, %v", b, err)
	}
}

// TestMountFlags: the kernel holds the mount read-only, nosuid and nodev,
// as fusermount would for another user. A root mount used to be rw in
// /proc/self/mountinfo (only its superblock was read-only), so findmnt and
// mount called a backup tree that answers EROFS writable.
func TestMountFlags(t *testing.T) {
	r, src := localRepo(t)
	ingestPath(t, r, src)
	for _, shared := range []bool{false, true} {
		mnt, _ := mount(t, r, cfs.Options{AllowOther: shared})
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 || fsmeta.UnescapeMountinfo(f[4]) != mnt {
				continue
			}
			found = true
			opts := map[string]bool{}
			for _, o := range strings.Split(f[5], ",") {
				opts[o] = true
			}
			for _, want := range []string{"ro", "nosuid", "nodev"} {
				if !opts[want] {
					t.Errorf("allow-other %v: mount options %s lack %s", shared, f[5], want)
				}
			}
		}
		if !found {
			t.Fatalf("%s not in /proc/self/mountinfo", mnt)
		}
	}
}

func firstLines(lines []string) string {
	if len(lines) > 20 {
		lines = append(lines[:20:20], fmt.Sprintf("... and %d more", len(lines)-20))
	}
	return strings.Join(lines, "\n")
}

// Unmounting a tree a process is inside fails with EBUSY, said on one
// line (fusermount's answer spans several), so that cairn mount's Ctrl-C
// and the daemon can say why and detach it.
func TestUnmountBusy(t *testing.T) {
	r, src := localRepo(t)
	ingestPath(t, r, src)
	mnt, _, m := mountM(t, r, cfs.Options{})
	d, err := os.Open(filepath.Join(mnt, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Unmount()
	d.Close()
	if !errors.Is(err, syscall.EBUSY) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unmount of a busy tree: %q, want EBUSY on one line", err)
	}
}

// TestFsyncSucceeds: fsync of a file or folder opened for reading succeeds,
// as on any read-only filesystem (`sync FILE`, editors and databases that
// sync what they opened), instead of failing with EOPNOTSUPP.
func TestFsyncSucceeds(t *testing.T) {
	requireFUSE(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644)
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, _ := mount(t, r, cfs.Options{})
	for _, p := range []string{"latest/f", "latest/f", "latest/d", "latest", "snapshots", "."} {
		f, err := os.Open(filepath.Join(mnt, p))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Errorf("fsync %s: %v", p, err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			t.Errorf("fdatasync %s: %v", p, err)
		}
		f.Close()
	}
}

// Commands started while a tree is mounted (the daemon's hooks and source
// commands) must not inherit the FUSE connection: one that outlives a
// crashed daemon would keep its mount hanging instead of failing with
// ENOTCONN, and a restarted daemon waiting on it.
func TestMountConnectionNotInherited(t *testing.T) {
	r, _ := localRepo(t)
	mount(t, r, cfs.Options{})
	out, err := exec.Command("sh", "-c", `for f in /proc/$$/fd/*; do readlink "$f"; done; true`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Contains(string(out), "/dev/fuse") {
		t.Fatalf("a child process holds /dev/fuse:\n%s", out)
	}
}
