package fs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	cfs "github.com/cairn-backup/cairn/fs"
)

// TestTrustedXattrNames: through a mount with --allow-other, a user
// without CAP_SYS_ADMIN is shown the attribute names the source shows
// it, without the trusted. ones it may not read. They were listed, so
// getfattr -d -m - failed on each ("No such attribute") where it works on
// the source, and the names of root's trusted attributes were shown to
// every user. Root still lists and reads them.
func TestTrustedXattrNames(t *testing.T) {
	requireFUSE(t)
	getfattr, err := exec.LookPath("getfattr")
	need(t, err == nil, "getfattr (make deps installs attr)")
	base := t.TempDir()
	src := filepath.Join(base, "src")
	os.Mkdir(src, 0o755)
	f := filepath.Join(src, "f")
	os.WriteFile(f, []byte("x"), 0o644)
	for _, x := range [][2]string{{"user.a", "1"}, {"trusted.t", "root only"}, {"security.s", "label"}} {
		if err := unix.Lsetxattr(f, x[0], []byte(x[1]), 0); err != nil {
			t.Fatalf("setxattr %s: %v", x[0], err)
		}
	}
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	if err := unix.Lsetxattr(filepath.Join(src, "d"), "trusted.d", []byte("dir"), 0); err != nil {
		t.Fatal(err)
	}
	// The folder t.TempDir makes base in is 0700: open it, or the shared
	// mount rightly shows it, closed, above src. The source is open
	// whatever the umask.
	os.Chmod(filepath.Dir(base), 0o755)
	for _, p := range []string{base, src, filepath.Join(src, "d")} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(f, 0o644)
	r, _ := localRepo(t)
	ingestPath(t, r, src)
	mnt, _ := mount(t, r, cfs.Options{AllowOther: true})
	// Let nobody walk down to the source and the mount point.
	for _, p := range []string{base, mnt} {
		for p = filepath.Dir(p); p != "/"; p = filepath.Dir(p) {
			if st, err := os.Stat(p); err == nil {
				os.Chmod(p, st.Mode().Perm()|0o011)
			}
		}
	}
	os.Chmod(base, 0o755)
	snap, err := filepath.EvalSymlinks(filepath.Join(mnt, "latest"))
	if err != nil {
		t.Fatal(err)
	}

	dump := func(root string, nobody bool) string {
		cmd := exec.Command(getfattr, "--absolute-names", "-m", "-", "-d", filepath.Join(root, "f"), filepath.Join(root, "d"))
		if nobody {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			t.Errorf("getfattr -m - -d in %s (as nobody: %v): %v\n%s", root, nobody, err, errb.String())
		}
		return strings.ReplaceAll(out.String(), root, "ROOT")
	}
	if a, b := dump(src, true), dump(snap, true); a != b {
		t.Errorf("as nobody, the source lists\n%s\nthe mount lists\n%s", a, b)
	}
	if a, b := dump(src, false), dump(snap, false); a != b || !strings.Contains(b, `trusted.t="root only"`) {
		t.Errorf("as root, the source lists\n%s\nthe mount lists\n%s", a, b)
	}
}
