package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/cmd/cairn/daemon"
	"github.com/cairn-backup/cairn/repo/fsmeta/testtree"
	"github.com/cairn-backup/cairn/repo/repotest"
	"golang.org/x/sys/unix"
)

// tarCommand runs tool (tar or bsdtar) with args. bsdtar runs in a UTF-8
// locale: the archive's names are UTF-8 (pax), and in the C locale
// bsdtar refuses a path (a TMPDIR's) with letters that are not ASCII.
func tarCommand(tool string, args ...string) *exec.Cmd {
	cmd := exec.Command(tool, args...)
	if tool == "bsdtar" {
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	}
	return cmd
}

// cairn dump gives back a file's bytes, and a folder as a tar archive that
// GNU tar and bsdtar extract to a tree equal to the source: every kind of
// entry and attribute the source holds (names that are not UTF-8, owners,
// hardlinks, devices, xattrs, ACLs), but the socket (tar has none).
func TestDumpRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Fatal("the dump test checks archives with GNU tar, which is missing")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	testtree.Build(t, src, 3)
	c.ok("ingest", src)

	for _, rel := range []string{testtree.FileBig, testtree.FileText, testtree.SparseMiddle} {
		want, err := os.ReadFile(filepath.Join(src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ok("dump", "latest:"+filepath.Join(src, rel)); got != string(want) {
			t.Errorf("dump of %s: %d bytes, want the file's %d", rel, len(got), len(want))
		}
	}
	// restic's form: the path as a second argument
	want, _ := os.ReadFile(filepath.Join(src, testtree.FileSmall))
	if got := c.ok("dump", "latest", filepath.Join(src, testtree.FileSmall)); got != string(want) {
		t.Errorf("dump latest PATH gave %d bytes, want %d", len(got), len(want))
	}

	work := t.TempDir()
	archive := filepath.Join(work, "src.tar")
	c.ok("dump", "--target", archive, "latest:"+src)
	extractors := []struct {
		tool string
		args []string
	}{
		{"tar", []string{"-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"}},
		{"bsdtar", []string{"-x", "-p", "--numeric-owner", "--xattrs", "--acls"}},
	}
	// libarchive 3.6 reads a PAX time before 1970 with a fraction
	// ("-94607999.876543211") with the fraction's sign lost: the archive
	// holds the right time, which GNU tar extracts, and libarchive is off.
	libarchiveTime := func(d string) bool {
		return strings.Contains(d, "before-1970") && strings.Contains(d, "mtime")
	}
	for _, x := range extractors {
		if _, err := exec.LookPath(x.tool); err != nil {
			if x.tool == "tar" || os.Getenv("CI") == "true" {
				t.Fatalf("the dump test checks archives with %s, which is missing (make deps installs it)", x.tool)
			}
			t.Logf("no %s here: its extraction is not checked", x.tool)
			continue
		}
		out := filepath.Join(work, x.tool)
		os.Mkdir(out, 0o755)
		tarOut, err := tarCommand(x.tool, append(x.args, "-f", archive, "-C", out)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s -x: %v\n%s", x.tool, err, tarOut)
		}
		if _, err := os.Stat(filepath.Join(out, "src")); err != nil {
			t.Fatalf("%s: the archive's entries are not named below the folder's name: %v", x.tool, err)
		}
		var diffs []string
		for _, d := range testtree.Compare(t, src, filepath.Join(out, "src"), testtree.CompareOptions{}) {
			if !strings.Contains(d, "sock") && !(x.tool == "bsdtar" && libarchiveTime(d)) {
				diffs = append(diffs, d)
			}
		}
		if len(diffs) > 0 {
			t.Errorf("the archive extracted by %s differs from the source:\n%s", x.tool, strings.Join(diffs, "\n"))
		}
	}

	// A stream's snapshot gives back the stream, by the name it was given.
	stream := bytes.Repeat([]byte("COPY app (id) FROM stdin;\n"), 5000)
	in := c.cmd("ingest", "--stdin", "--stdin-name", "app.sql", "--source", "db")
	in.Stdin = bytes.NewReader(stream)
	if b, err := in.CombinedOutput(); err != nil {
		t.Fatalf("ingest --stdin: %v\n%s", err, b)
	}
	if got := c.ok("dump", "--source", "db", "latest:app.sql"); got != string(stream) {
		t.Errorf("dump of the stream gave %d bytes, want %d", len(got), len(stream))
	}
	// A folder is not written to a terminal, nor a missing path anywhere.
	if _, code := c.run("dump", "latest:"+filepath.Join(src, "nowhere")); code != 1 {
		t.Errorf("dump of a missing path exited %d, want 1", code)
	}
}

// A lost pack: a file's dump stops with an error naming the chunk (exit
// 1); an archive goes on, with the lost chunks as zeros and the file named
// in a warning, still a valid archive, and exits 1.
func TestDumpLostPack(t *testing.T) {
	f := repotest.New(t)
	// Every pack of big.bin goes, so that it loses several chunks.
	lost := map[string]bool{}
	for _, pid := range f.PacksOf("media/big.bin") {
		for _, p := range f.RemovePack(pid).Affected[f.Latest().ID] {
			lost[p] = true
		}
	}
	c := fixtureCLI(t, f)
	big := filepath.Join(f.Source, "media/big.bin")
	_, errOut, code := c.runErr("dump", "latest:"+big)
	if code != 1 {
		t.Errorf("dump of a file whose pack is lost exited %d, want 1", code)
	}
	if !strings.Contains(errOut, "big.bin: cut short at byte ") {
		t.Errorf("the dump of the file does not say which file stops where:\n%s", errOut)
	}
	var stderr bytes.Buffer
	cmd := c.cmd("dump", "latest:"+f.Source)
	var archive bytes.Buffer
	cmd.Stdout, cmd.Stderr = &archive, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("dump of a folder with a lost pack: %v, want exit 1\n%s", err, stderr.String())
	}
	// One warning per file, however many of its chunks are lost, and
	// the summary counts files, not chunks.
	if n := strings.Count(stderr.String(), "media/big.bin: written with "); n != 1 {
		t.Errorf("the file should be named once, saying what became of it, not %d times:\n%s", n, stderr.String())
	}
	if want := fmt.Sprintf("lacks what %s could not be read", plural(len(lost), "path")); !strings.Contains(stderr.String(), want) {
		t.Errorf("the summary should say %q:\n%s", want, stderr.String())
	}
	list := exec.Command("tar", "-t", "-v", "-f", "-")
	list.Stdin = &archive
	out, err := list.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "media/big.bin") {
		t.Errorf("tar cannot read the archive (%v):\n%s", err, out)
	}
}

// A sparse file goes into the archive as a GNU PAX sparse 1.0 entry: the
// archive holds only its data, and GNU tar extracts it with its bytes and
// its holes. Files without holes, and extended attributes, round-trip as
// before, in the same archive.
func TestDumpSparse(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Fatal("the dump test checks archives with GNU tar, which is missing")
	}
	const mib = 1 << 20
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	sparseFile := func(rel string, size int64, at ...int64) { writeSparse(t, filepath.Join(src, rel), size, at...) }
	// data at the start, in the middle and at the end
	sparseFile("vm.img", 64*mib, 0, 20*mib, 64*mib-100)
	// a hole at the start, data, and a trailing hole
	sparseFile("deep/tail-hole.img", 48*mib, 10*mib)
	// nothing but a hole
	sparseFile("deep/empty.img", 16*mib)
	// a long name: the stand-in ustar name is cut, the real one is kept
	long := strings.Repeat("n", 120) + ".img"
	sparseFile(filepath.Join("deep", long), 8*mib, 4*mib)
	plain := bytes.Repeat([]byte("not sparse at all\n"), 100000)
	if err := os.WriteFile(filepath.Join(src, "plain.bin"), plain, 0o644); err != nil {
		t.Fatal(err)
	}
	xf := filepath.Join(src, "attributed")
	if err := os.WriteFile(xf, []byte("attributed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(xf, "user.comment", []byte("hello, xattrs"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	c.ok("ingest", src)

	work := t.TempDir()
	archive := filepath.Join(work, "src.tar")
	c.ok("dump", "--target", archive, "latest:"+src)
	fi, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 4*mib {
		t.Errorf("the archive is %d bytes for files of 136 MiB apparent size, mostly holes", fi.Size())
	}
	out := filepath.Join(work, "out")
	os.Mkdir(out, 0o755)
	tarOut, err := exec.Command("tar", "-x", "-p", "--xattrs", "--xattrs-include=*", "-f", archive, "-C", out).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -x: %v\n%s", err, tarOut)
	}
	listing, err := exec.Command("tar", "-t", "-f", archive).CombinedOutput()
	if err != nil || strings.Contains(string(listing), "GNUSparseFile") {
		t.Errorf("tar -t does not give the real names (%v):\n%s", err, listing)
	}
	for _, rel := range []string{"vm.img", "deep/tail-hole.img", "deep/empty.img", filepath.Join("deep", long), "plain.bin", "attributed"} {
		compareExtracted(t, src, filepath.Join(out, "src"), rel)
	}
	v := make([]byte, 64)
	if n, err := unix.Getxattr(filepath.Join(out, "src", "attributed"), "user.comment", v); err != nil || string(v[:n]) != "hello, xattrs" {
		t.Errorf("the extracted file's xattr: %q, %v", v[:max(n, 0)], err)
	}
}

// bsdtar (libarchive, as on macOS and the BSDs) extracts what cairn dump
// writes to the same tree: sparse files (PAX sparse 1.0) with their bytes
// and holes, plain files, modes, mtimes, symlinks, long names and
// non-ASCII names, among them a sparse file whose stand-in ustar name
// reaches 100 bytes inside a multi-byte character.
func TestDumpSparseBsdtar(t *testing.T) {
	if _, err := exec.LookPath("bsdtar"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the dump test checks archives with bsdtar, which is missing (make deps installs libarchive-tools)")
		}
		t.Skip("no bsdtar here (libarchive-tools)")
	}
	const mib = 1 << 20
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	sparseFile := func(rel string, size int64, at ...int64) { writeSparse(t, filepath.Join(src, rel), size, at...) }
	long := strings.Repeat("n", 120) + ".img"
	// "src/deep/GNUSparseFile.0/" is 25 bytes: byte 100 falls inside a "é"
	utf := strings.Repeat("é", 60) + ".img"
	sparseFiles := []string{"vm.img", "deep/tail-hole.img", "deep/empty.img", filepath.Join("deep", long),
		filepath.Join("deep", utf), "grüße-稀疏.img"}
	sparseFile("vm.img", 64*mib, 0, 20*mib, 64*mib-100)
	sparseFile("deep/tail-hole.img", 48*mib, 10*mib)
	sparseFile("deep/empty.img", 16*mib)
	sparseFile(filepath.Join("deep", long), 8*mib, 4*mib)
	sparseFile(filepath.Join("deep", utf), 8*mib, 1*mib)
	sparseFile("grüße-稀疏.img", 8*mib, 2*mib)
	plain := bytes.Repeat([]byte("not sparse at all\n"), 100000)
	plainFiles := map[string]os.FileMode{
		"plain.bin":                        0o644,
		"script.sh":                        0o750,
		"deep/" + strings.Repeat("p", 130): 0o600,
		"ünïcödé-名前.txt":                   0o640,
	}
	for rel, mode := range plainFiles {
		p := filepath.Join(src, rel)
		if err := os.WriteFile(p, append([]byte(rel+"\n"), plain...), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "vm.img"), 0o604); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link":                             "plain.bin",
		"deep/" + strings.Repeat("l", 110): "../" + strings.Repeat("t", 150),
		"lien-ñ":                           "ünïcödé-名前.txt",
	}
	for rel, target := range links {
		if err := os.Symlink(target, filepath.Join(src, rel)); err != nil {
			t.Fatal(err)
		}
	}
	c.ok("ingest", src)

	work := t.TempDir()
	archive := filepath.Join(work, "src.tar")
	c.ok("dump", "--target", archive, "latest:"+src)
	out := filepath.Join(work, "out")
	os.Mkdir(out, 0o755)
	// -p: modes as archived, whatever the umask
	bsdOut, err := tarCommand("bsdtar", "-x", "-p", "-f", archive, "-C", out).CombinedOutput()
	if err != nil || len(bsdOut) > 0 {
		t.Fatalf("bsdtar -x: %v\n%s", err, bsdOut)
	}
	listing, err := tarCommand("bsdtar", "-tv", "-f", archive).CombinedOutput()
	if err != nil || strings.Contains(string(listing), "GNUSparseFile") || strings.Contains(string(listing), "PaxHeaders") {
		t.Errorf("bsdtar -tv does not give the real names (%v):\n%s", err, listing)
	}
	for _, rel := range sparseFiles {
		if !strings.Contains(string(listing), rel) {
			t.Errorf("bsdtar -tv does not list %s:\n%s", rel, listing)
		}
	}
	var files []string
	files = append(files, sparseFiles...)
	for rel := range plainFiles {
		files = append(files, rel)
	}
	for _, rel := range files {
		compareExtracted(t, src, filepath.Join(out, "src"), rel)
	}
	for rel, want := range links {
		got, err := os.Readlink(filepath.Join(out, "src", rel))
		if err != nil || got != want {
			t.Errorf("symlink %s: %q, %v; want %q", rel, got, err, want)
		}
	}
}

// writeSparse makes a file of size bytes that is a hole but for a few
// bytes ("data at OFFSET") at each offset of at.
func writeSparse(t *testing.T, path string, size int64, at ...int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range at {
		if _, err := f.WriteAt([]byte("data at "+strconv.FormatInt(off, 10)), off); err != nil {
			t.Fatal(err)
		}
	}
}

// compareExtracted checks that the file rel, extracted from a dump of src
// into out, has src's bytes, mode, size and mtime, and (a .img file)
// its holes: no more than an eighth of it allocated.
func compareExtracted(t *testing.T, src, out, rel string) {
	t.Helper()
	a, b := filepath.Join(src, rel), filepath.Join(out, rel)
	if cmpOut, err := exec.Command("cmp", a, b).CombinedOutput(); err != nil {
		t.Errorf("%s: extracted bytes differ: %v\n%s", rel, err, cmpOut)
		return
	}
	var sa, sb unix.Stat_t
	if err := unix.Lstat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(b, &sb); err != nil {
		t.Fatal(err)
	}
	if sb.Mode != sa.Mode {
		t.Errorf("%s: mode %o, want %o", rel, sb.Mode, sa.Mode)
	}
	if sb.Mtim != sa.Mtim {
		t.Errorf("%s: mtime %v, want %v", rel, sb.Mtim, sa.Mtim)
	}
	if sb.Size != sa.Size {
		t.Errorf("%s: size %d, want %d", rel, sb.Size, sa.Size)
	}
	if strings.HasSuffix(rel, ".img") && sb.Blocks*512 > sa.Size/8 {
		t.Errorf("%s: extracted with %d bytes allocated of %d: not sparse", rel, sb.Blocks*512, sa.Size)
	}
}

// A dump --target that fails (here a file whose pack is lost; an
// interrupt does the same) leaves the old file as it was and no partial
// one, as --help promises ("replaced only once complete"). Before, the
// partial output was renamed over the target all the same.
func TestDumpTargetFailureKeepsOldFile(t *testing.T) {
	f := repotest.New(t)
	f.RemovePack(f.PackOf("media/big.bin"))
	c := fixtureCLI(t, f)
	dir := t.TempDir()
	target := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(target, []byte("the old file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := c.runErr("dump", "--target", target, "latest:"+filepath.Join(f.Source, "media/big.bin"))
	if code != 1 {
		t.Fatalf("dump --target of a file whose pack is lost exited %d, want 1", code)
	}
	// Nothing of it was written: not "cut short", as on standard output.
	if !strings.Contains(errOut, target+" not written: big.bin: cannot be read from byte ") || strings.Contains(errOut, "cut short") {
		t.Errorf("the error should say the target was not written and where the file cannot be read:\n%s", errOut)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "the old file\n" {
		t.Errorf("the target was replaced by a failed dump: %d bytes, %v", len(b), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("partial files left: %v", left)
	}
}

// A process stopped at once (a second Ctrl-C) removes the hidden partial
// file of a dump --target it was writing; one finished is not touched.
func TestRemovePartials(t *testing.T) {
	dir := t.TempDir()
	done, err := newAtomicFile(filepath.Join(dir, "done.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := done.finish(nil); err != nil {
		t.Fatal(err)
	}
	a, err := newAtomicFile(filepath.Join(dir, "out.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	removePartials()
	if _, err := os.Lstat(a.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial file %s left: %v", a.Name(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "done.tar")); err != nil {
		t.Errorf("finished file: %v", err)
	}
}

// A symlink whose target holds no ASCII character comes out of bsdtar as
// a symlink: archive/tar leaves its ustar linkname empty (it keeps ASCII
// only), and libarchive took such an entry for an empty plain file.
func TestDumpNonASCIILinkBsdtar(t *testing.T) {
	if _, err := exec.LookPath("bsdtar"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the dump test checks archives with bsdtar, which is missing (make deps installs libarchive-tools)")
		}
		t.Skip("no bsdtar here (libarchive-tools)")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"cjk":    "日本語",
		"long":   strings.Repeat("語", 60),
		"binary": "\xfe\xfe\xfe",
	}
	for rel, target := range links {
		if err := os.Symlink(target, filepath.Join(src, rel)); err != nil {
			t.Fatal(err)
		}
	}
	c.ok("ingest", src)

	work := t.TempDir()
	archive := filepath.Join(work, "src.tar")
	c.ok("dump", "--target", archive, "latest:"+src)
	out := filepath.Join(work, "out")
	os.Mkdir(out, 0o755)
	if b, err := exec.Command("bsdtar", "-x", "-f", archive, "-C", out).CombinedOutput(); err != nil {
		t.Logf("bsdtar -x: %v\n%s", err, b) // it may warn that a name is not in the C locale
	}
	for rel, want := range links {
		got, err := os.Readlink(filepath.Join(out, "src", rel))
		if err != nil || got != want {
			t.Errorf("bsdtar extracted %s as %q, %v; want a symlink to %q", rel, got, err, want)
		}
	}
}

// dump --target writes a file whose path is longer than PATH_MAX, as
// restore --target restores under one: it failed with "file name too
// long" creating its temporary file.
func TestDumpTargetLongerThanPathMax(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("ingest", src)

	root := t.TempDir()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{root}
	for len(strings.Join(parts, "/")) < 5000 {
		name := strings.Repeat("d", 200)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd, parts = next, append(parts, name)
	}
	defer unix.Close(fd)
	c.ok("dump", "--target", strings.Join(append(parts, "a.txt"), "/"), "latest:"+filepath.Join(src, "a.txt"))
	f, err := unix.Openat(fd, "a.txt", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("the dumped file: %v", err)
	}
	b := make([]byte, 100)
	n, _ := unix.Read(f, b)
	unix.Close(f)
	if string(b[:n]) != "hello\n" {
		t.Errorf("the dumped file holds %q", b[:n])
	}
	names := make([]byte, 4096)
	if k, err := unix.ReadDirent(fd, names); err != nil || strings.Contains(string(names[:k]), "cairn-partial") {
		t.Errorf("a partial file is left beside the target (%v)", err)
	}
}

// dump --target of a sparse file writes a sparse file: its holes are
// skipped, not written as zeros that take the apparent size on disk (a
// 100 GiB VM image filled the disk where restore would not). Standard
// output, which may be a pipe or a file opened for appending, still gets
// the zeros.
func TestDumpTargetKeepsHoles(t *testing.T) {
	const mib = 1 << 20
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSparse(t, filepath.Join(src, "vm.img"), 64*mib, 0, 20*mib)
	writeSparse(t, filepath.Join(src, "hole.img"), 32*mib)
	c.ok("ingest", src)
	for _, name := range []string{"vm.img", "hole.img"} {
		target := filepath.Join(t.TempDir(), name)
		c.ok("dump", "--target", target, "latest:"+filepath.Join(src, name))
		if out, err := exec.Command("cmp", filepath.Join(src, name), target).CombinedOutput(); err != nil {
			t.Errorf("%s: dumped bytes differ: %v\n%s", name, err, out)
		}
		var st unix.Stat_t
		if err := unix.Stat(target, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != 64*mib && name == "vm.img" || st.Size != 32*mib && name == "hole.img" {
			t.Errorf("%s: dumped %d bytes", name, st.Size)
		}
		if st.Blocks*512 > 4*mib {
			t.Errorf("%s: dumped with %d bytes allocated of %d: its holes were written", name, st.Blocks*512, st.Size)
		}
	}
}

// An archive --target of a folder with a lost pack is written whole, the
// lost chunks as zeros, as on standard output, and kept: exit 1 with the
// archive in place. Before, the error that names the lost paths also
// removed the archive, so nothing of the folder was saved while the
// message spoke of an archive that "lacks" them.
func TestDumpTargetArchiveKeptWithLostPack(t *testing.T) {
	f := repotest.New(t)
	f.RemovePack(f.PackOf("media/big.bin"))
	c := fixtureCLI(t, f)
	target := filepath.Join(t.TempDir(), "src.tar")
	if _, code := c.run("dump", "--target", target, "latest:"+f.Source); code != 1 {
		t.Fatalf("dump --target of a folder with a lost pack exited %d, want 1", code)
	}
	out, err := exec.Command("tar", "-t", "-f", target).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "media/big.bin") {
		t.Errorf("the archive is not there, or not whole (%v):\n%s", err, out)
	}
}

// dump --json of a folder holding a socket says on stderr, as a JSON
// notice, that the socket is left out of the archive, as restore's
// notices are: the notice was dropped with --json, so a script saw an
// archive one entry short and nothing said why.
func TestDumpJSONSocketNotice(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := daemon.ListenUnix(filepath.Join(src, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.ok("ingest", "-q", src)
	_, stderr, code := c.runErr("dump", "--json", "--target", filepath.Join(t.TempDir(), "a.tar"), "latest:"+src)
	if code != 0 {
		t.Fatalf("dump --json exited %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr: %q, want one JSON notice", stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m["message_type"] != "notice" || m["item"] != "src/sock" {
		t.Fatalf("stderr: %q (%v), want a notice for src/sock", stderr, err)
	}
}

// dump --target over an existing file keeps its mode (and, for root, its
// owner), as > or restic's dump --target do. It became 0666 less the umask
// and root's: a 0600 key dumped over its old copy turned world-readable.
func TestDumpTargetKeepsModeOfReplacedFile(t *testing.T) {
	f := repotest.New(t)
	c := fixtureCLI(t, f)
	target := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(target, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o600); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(target, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	c.ok("dump", "--target", target, "latest:"+filepath.Join(f.Source, "media/big.bin"))
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced target has mode %o, want the old file's 600", fi.Mode().Perm())
	}
	if st := fi.Sys().(*syscall.Stat_t); root && (st.Uid != 65534 || st.Gid != 65534) {
		t.Errorf("replaced target is owned by %d:%d, want the old file's 65534:65534", st.Uid, st.Gid)
	}
}
