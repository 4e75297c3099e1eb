package restore_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// ext4Mount makes an ext4 filesystem of 32 MiB in an image under dir and
// mounts it (noatime, so that reading leaves the trees as they are) at
// dir/name; it is unmounted when the test ends, its flags cleared first.
func ext4Mount(t *testing.T, dir, name string) string {
	t.Helper()
	img := filepath.Join(dir, name+".img")
	mnt := filepath.Join(dir, name)
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", img)
	run(t, "mount", "-o", "loop,noatime", img, mnt)
	t.Cleanup(func() {
		exec.Command("chattr", "-R", "-i", "-a", mnt).Run()
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	return mnt
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// lsattrTree is lsattr of every entry under root but lost+found, as
// "relative/path flags" lines, sorted.
func lsattrTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "lost+found" {
			return filepath.SkipDir
		}
		if rel == "." || !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil
		}
		f := strings.Fields(run(t, "lsattr", "-d", p))[0]
		out = append(out, rel+" "+f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestInodeFlagsRoundTrip: chattr flags (immutable, append-only, nodump,
// noatime, sync, dirsync) on files, hardlinked files and folders on ext4
// come back on another ext4 as lsattr shows them, also when restoring
// again over the first restore (its immutable files and folders in the
// way) with --delete removing an immutable extra file, and once more over
// kept files whose flags were changed. An unchanged
// re-ingest keeps the tree IDs.
func TestInodeFlagsRoundTrip(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr", "lsattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	dst := ext4Mount(t, dir, "dst")

	for _, d := range []string{"d", "d/sub", "plain", "sync"} {
		if err := os.Mkdir(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"d/imm", "d/app", "d/nodump", "d/noatime", "d/sub/f", "plain/f", "sync/f"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(src, "d/imm"), filepath.Join(src, "d/immlink")); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("mkfifo", filepath.Join(src, "d/fifo")).Run(); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{
		{"+i", "d/imm"}, {"+a", "d/app"}, {"+d", "d/nodump"}, {"+A", "d/noatime"},
		{"+S", "sync/f"}, {"+D", "sync"}, {"+a", "d/sub"}, {"+dA", "plain"}, {"+i", "d"},
	} {
		run(t, "chattr", c[0], filepath.Join(src, c[1]))
	}
	want := lsattrTree(t, src)

	r := repo.TestRepository(t)
	in := ingest.Options{Paths: []string{src}, SetPath: "/data", Host: "h", Source: "s"}
	res, err := ingest.Run(ctx, r, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ingest.Run(ctx, r, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Snapshot.Tree != res.Snapshot.Tree {
		t.Errorf("unchanged re-ingest: tree %s, first %s", again.Snapshot.Tree.Short(), res.Snapshot.Tree.Short())
	}

	// chattr changes the ctime, not the content: the next ingest
	// records the new flags even though the file-change cache vouches
	// for the content.
	run(t, "chattr", "+d", filepath.Join(src, "d/noatime"))
	changed, err := ingest.Run(ctx, r, in)
	if err != nil {
		t.Fatal(err)
	}
	if fl := nodeAt(t, r, changed.Snapshot.Tree, "data", "d", "noatime").Flags; fl != 0xc0 {
		t.Errorf("flags after chattr +d: %#x, want 0xc0 (dA)", fl)
	}
	run(t, "chattr", "-d", filepath.Join(src, "d/noatime"))

	for i, o := range []restore.Options{{}, {Overwrite: restore.Always, Delete: true}, {}} {
		var warned []string
		o.Target = dst
		o.Warn = func(p string, err error) { warned = append(warned, p+": "+err.Error()) }
		if _, err := restore.Run(ctx, r, res.Snapshot, "/data", o); err != nil {
			t.Errorf("restore %d: %v", i, err)
		}
		if len(warned) > 0 {
			t.Errorf("restore %d warned: %q", i, warned)
		}
		if got := lsattrTree(t, dst); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("restore %d: lsattr\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if i == 0 {
			// Something the snapshot lacks, immutable, for --delete.
			run(t, "chattr", "-i", filepath.Join(dst, "d"))
			if err := os.WriteFile(filepath.Join(dst, "d/extra"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "chattr", "+i", filepath.Join(dst, "d/extra"), filepath.Join(dst, "d"))
		}
		if i == 1 {
			// Kept by the last re-run (if-changed), whose content and
			// other metadata are the snapshot's: flags that differ
			// only in what lstat does not show are put right.
			run(t, "chattr", "-d", filepath.Join(dst, "d/nodump"))
			run(t, "chattr", "+A", filepath.Join(dst, "plain/f"))
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "d/extra")); !os.IsNotExist(err) {
		t.Errorf("immutable extra file not deleted: %v", err)
	}
	a, _ := os.Stat(filepath.Join(dst, "d/imm"))
	b, _ := os.Stat(filepath.Join(dst, "d/immlink"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("immutable hardlinks not restored as one file")
	}
}

// nodeAt is the node at the path of names from the tree tid.
func nodeAt(t *testing.T, r *repo.Repository, tid id.ID, names ...string) *tree.Node {
	t.Helper()
	var n *tree.Node
	for _, name := range names {
		nodes, err := r.LoadTree(context.Background(), tid)
		if err != nil {
			t.Fatal(err)
		}
		n = nil
		for _, c := range nodes {
			if c.Name == name {
				n = c
			}
		}
		if n == nil {
			t.Fatalf("%s: not in the snapshot", name)
		}
		tid = n.Subtree
	}
	return n
}

// TestInodeFlagsUnsupportedTarget: restoring flags a tmpfs refuses (sync)
// onto it is one notice for the whole restore, not an error per file.
func TestInodeFlagsUnsupportedTarget(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr", "lsattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	for i := range 5 {
		p := filepath.Join(src, "f"+string(rune('0'+i)))
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, "chattr", "+S", p)
	}
	r, res := ingestAsData(t, src)
	tmp := filepath.Join(dir, "tmpfs")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", "-t", "tmpfs", "-o", "size=8m", "none", tmp)
	t.Cleanup(func() { exec.Command("umount", tmp).Run() })
	var warned, notices []string
	o := restore.Options{Target: tmp,
		Warn:   func(p string, err error) { warned = append(warned, p+": "+err.Error()) },
		Notice: func(p, msg string) { notices = append(notices, p+": "+msg) }}
	if _, err := restore.Run(ctx, r, res.Snapshot, "/data", o); err != nil {
		t.Errorf("restore: %v", err)
	}
	if len(warned) > 0 {
		t.Errorf("warned: %q", warned)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "inode flags") {
		t.Errorf("notices %q, want one about inode flags", notices)
	}
	if b, err := os.ReadFile(filepath.Join(tmp, "f3")); err != nil || string(b) != "x" {
		t.Errorf("f3: %q, %v", b, err)
	}
}

// TestNoFlagsNoticeKeepsOtherFailures: the one notice for a target
// without inode flags swallows only failures to set flags. A symlink the
// exFAT FUSE driver cannot make (ENOSYS, as for the flags ioctl) is still
// an error, as root or with --no-owner, not dropped as a refused flag
// (nor a name vfat refuses with EINVAL).
func TestNoFlagsNoticeKeepsOtherFailures(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.exfat", "mount.exfat-fuse", "losetup", "umount")
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "ok"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("ok", filepath.Join(src, "ln")); err != nil {
		t.Fatal(err)
	}
	r, res := ingestAsData(t, src)
	mnt := exfatMount(t, dir, 8<<20)
	for _, skipOwner := range []bool{false, true} {
		var warned []string
		o := restore.Options{Target: filepath.Join(mnt, map[bool]string{false: "root", true: "noowner"}[skipOwner]), SkipOwner: skipOwner,
			Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }}
		_, err := restore.Run(ctx, r, res.Snapshot, "/data", o)
		found := false
		for _, w := range warned {
			found = found || strings.Contains(w, "ln")
		}
		if !found || err == nil {
			t.Errorf("skipOwner %v: the symlink not restored and not reported: warned %q, restore error %v", skipOwner, warned, err)
		}
		if b, err := os.ReadFile(filepath.Join(o.Target, "ok")); err != nil || string(b) != "ok" {
			t.Errorf("ok: %q, %v", b, err)
		}
	}
}

// TestImmutableHardlinksConcurrent: the names of an immutable file are
// linked both by the worker that finishes it (the names met while it was
// written) and by the walk (the names met after): the flag each clears
// for its link and sets again must not be set again under the other's
// link, which then fails with EPERM.
func TestImmutableHardlinksConcurrent(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr", "lsattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	dst := ext4Mount(t, dir, "dst")
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	if err := os.WriteFile(filepath.Join(src, "a"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "l"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "chattr", "+i", filepath.Join(src, "a"))
	r, res := ingestAsData(t, src)
	for i := range 6 {
		target := filepath.Join(dst, strconv.Itoa(i))
		var warned []string
		var mu sync.Mutex
		o := restore.Options{Target: target, Workers: 4, Warn: func(p string, err error) {
			mu.Lock()
			warned = append(warned, p+": "+err.Error())
			mu.Unlock()
		}}
		st, err := restore.Run(ctx, r, res.Snapshot, "/data", o)
		if err != nil || len(warned) > 0 {
			t.Fatalf("restore %d: %v, warned %d: %q", i, err, len(warned), warned[:min(3, len(warned))])
		}
		if st.Links != 3000 {
			t.Errorf("restore %d: %d links, want 3000", i, st.Links)
		}
		if f := strings.Fields(run(t, "lsattr", filepath.Join(target, "a")))[0]; !strings.Contains(f, "i") {
			t.Errorf("restore %d: a has flags %s, want i", i, f)
		}
	}
}

// TestImmutableFolderWithDefaultACLRestoredOver: restoring again over a
// folder restored immutable with a default ACL (or into an immutable
// folder that has one) clears the flag before the default ACL is dropped
// for the entries restored in it, not after: no EPERM, and the new
// entries do not inherit it.
func TestImmutableFolderWithDefaultACLRestoredOver(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr", "lsattr", "setfacl", "getfacl")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	dst := ext4Mount(t, dir, "dst")
	if err := os.Mkdir(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "setfacl", "-d", "-m", "u:1234:rwx", filepath.Join(src, "d"))
	run(t, "chattr", "+i", filepath.Join(src, "d"))
	r, res := ingestAsData(t, src)
	for i := range 2 {
		var warned []string
		o := restore.Options{Target: dst, Overwrite: restore.Always, Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }}
		if _, err := restore.Run(ctx, r, res.Snapshot, "/data", o); err != nil || len(warned) > 0 {
			t.Errorf("restore %d: %v, warned %q", i, err, warned)
		}
		if acl := run(t, "getfacl", "-c", filepath.Join(dst, "d", "f")); strings.Contains(acl, "1234") {
			t.Errorf("restore %d: d/f inherited the folder's default ACL:\n%s", i, acl)
		}
		if f := strings.Fields(run(t, "lsattr", "-d", filepath.Join(dst, "d")))[0]; !strings.Contains(f, "i") {
			t.Errorf("restore %d: d has flags %s, want i", i, f)
		}
	}
	// An immutable file where the snapshot has the folder is replaced.
	run(t, "chattr", "-R", "-i", filepath.Join(dst, "d"))
	if err := os.RemoveAll(filepath.Join(dst, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "d"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "chattr", "+i", filepath.Join(dst, "d"))
	var warned []string
	o := restore.Options{Target: dst, Overwrite: restore.Always, Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }}
	if _, err := restore.Run(ctx, r, res.Snapshot, "/data", o); err != nil || len(warned) > 0 {
		t.Errorf("restore over an immutable file: %v, warned %q", err, warned)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "d", "f")); err != nil || string(b) != "f" {
		t.Errorf("d/f: %q, %v", b, err)
	}
}

// TestOldParentDoesNotVouchForFlags: a parent snapshot written before
// inode flags were kept records none for any file. Taken as the
// file-change cache (--parent, or an empty cache folder), it must not
// make an immutable file that did not change be recorded without its
// flag (nor the local cache remember that, for every ingest after).
func TestOldParentDoesNotVouchForFlags(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "chattr", "+i", filepath.Join(src, "f"))
	r := repo.TestRepository(t)
	in := ingest.Options{Paths: []string{src}, SetPath: "/data", Host: "h", Source: "s"}
	res, err := ingest.Run(ctx, r, in)
	if err != nil {
		t.Fatal(err)
	}
	// The same snapshot as an older cairn wrote it: no flags.
	var strip func(tid id.ID) id.ID
	strip = func(tid id.ID) id.ID {
		nodes, err := r.LoadTree(ctx, tid)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			n.Flags = 0
			if n.Kind == tree.KindDir {
				n.Subtree = strip(n.Subtree)
			}
		}
		return r.TestCraftTree(t, nodes)
	}
	old := *res.Snapshot
	old.Tree = strip(res.Snapshot.Tree)
	old.Time = old.Time.Add(time.Second)
	old.Summary = nil
	if err := r.SaveSnapshot(ctx, &old); err != nil {
		t.Fatal(err)
	}
	in.Parent = old.ID.String()
	for i := range 2 {
		got, err := ingest.Run(ctx, r, in)
		if err != nil {
			t.Fatal(err)
		}
		if fl := nodeAt(t, r, got.Snapshot.Tree, "data", "f").Flags; fl != 0x10 {
			t.Errorf("ingest %d with the old parent: flags %#x, want 0x10 (i)", i, fl)
		}
		in.Parent = ""
	}
}

// TestImmutableFileInTheWayOfSymlink: an immutable file where the
// snapshot has a symlink is replaced by it, as an immutable file in the
// way of a file is.
func TestImmutableFileInTheWayOfSymlink(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("elsewhere", filepath.Join(src, "s")); err != nil {
		t.Fatal(err)
	}
	r, res := ingestAsData(t, src)
	dst := ext4Mount(t, dir, "dst")
	if err := os.WriteFile(filepath.Join(dst, "s"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "chattr", "+i", filepath.Join(dst, "s"))
	var warned []string
	o := restore.Options{Target: dst, Overwrite: restore.Always, Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }}
	if _, err := restore.Run(ctx, r, res.Snapshot, "/data", o); err != nil || len(warned) > 0 {
		t.Errorf("restore: %v, warned %q", err, warned)
	}
	if l, err := os.Readlink(filepath.Join(dst, "s")); err != nil || l != "elsewhere" {
		t.Errorf("s: %q, %v; want the symlink", l, err)
	}
}

// A snapshot written before inode flags were kept says nothing of them
// (no Snapshot.InodeFlags): restoring it over a tree leaves the target's
// flags alone, where one written since (which recorded "none") clears
// them. Rolling / back to an old snapshot removed every chattr +d, +A and
// +i of the files it kept.
func TestSnapshotWithoutFlagsLeavesTargetFlags(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr", "lsattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	dst := ext4Mount(t, dir, "dst")
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, res := ingestAsData(t, src)
	sn := res.Snapshot
	if !sn.InodeFlags {
		t.Fatal("a new snapshot does not say it recorded inode flags")
	}
	target := filepath.Join(dst, "t")
	if _, err := restore.Run(ctx, r, sn, "/data", restore.Options{Target: target}); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(target, "f")
	run(t, "chattr", "+d", f)
	flags := func() string { return strings.Fields(run(t, "lsattr", f))[0] }

	old := *sn
	old.InodeFlags = false // as written before flags were kept
	if _, err := restore.Run(ctx, r, &old, "/data", restore.Options{Target: target}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(flags(), "d") {
		t.Fatalf("restoring a snapshot that says nothing of flags cleared the target's: %s", flags())
	}
	if _, err := restore.Run(ctx, r, sn, "/data", restore.Options{Target: target}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(flags(), "d") {
		t.Fatalf("restoring a snapshot that recorded no flags for f left the target's: %s", flags())
	}
}

// ingestAsData ingests src into a new test repository, recorded as /data.
func ingestAsData(t *testing.T, src string) (*repo.Repository, *ingest.Result) {
	t.Helper()
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}, SetPath: "/data", Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	return r, res
}

// TestImmutableSnapshotFolderAsTarget: restoring SNAP:FOLDER of an
// immutable (or append-only) folder gives the target that folder's flags,
// as it must; restoring it there again must clear them first, as for any
// folder below, instead of failing on every file to replace or delete.
func TestImmutableSnapshotFolderAsTarget(t *testing.T) {
	requireRoot(t)
	needTools(t, "mkfs.ext4", "mount", "umount", "chattr", "lsattr")
	ctx := context.Background()
	dir := t.TempDir()
	src := ext4Mount(t, dir, "src")
	dst := ext4Mount(t, dir, "dst")
	for _, d := range []string{"imm", "app"} {
		if err := os.Mkdir(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, d, "f"), []byte("snapshot\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "chattr", "+i", filepath.Join(src, "imm"))
	run(t, "chattr", "+a", filepath.Join(src, "app"))
	r, res := ingestAsData(t, src)
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []string{"imm", "app"} {
		target := filepath.Join(dst, d)
		for i := range 2 {
			var warned []string
			o := restore.Options{Target: target, Delete: true, Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) }}
			if _, err := restore.Run(ctx, r, res.Snapshot, "/data/"+d, o); err != nil || len(warned) > 0 {
				t.Errorf("%s: restore %d: %v, warned %q", d, i, err, warned)
			}
			if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "snapshot\n" {
				t.Errorf("%s: restore %d: f: %q, %v", d, i, b, err)
			}
			if _, err := os.Lstat(filepath.Join(target, "extra")); err == nil {
				t.Errorf("%s: restore %d: extra not deleted", d, i)
			}
			want := map[string]string{"imm": "i", "app": "a"}[d]
			if f := strings.Fields(run(t, "lsattr", "-d", target))[0]; !strings.Contains(f, want) {
				t.Errorf("%s: restore %d: target has flags %s, want %s", d, i, f, want)
			}
			// Changed in the target, with something the snapshot
			// lacks: the next restore puts it back.
			run(t, "chattr", "-i", "-a", target)
			if err := os.WriteFile(filepath.Join(target, "f"), []byte("changed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(filepath.Join(target, "f"), old, old); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(target, "extra"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "chattr", "+"+want, target)
		}
	}
}
