package restore

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// A user's --verify opens a restored file its mode keeps them from
// reading by giving it u+r for the open. Another user of the target who
// swaps that file for a symlink to one of the restoring user's own files
// (RENAME_EXCHANGE) between the check and the chmod must not get the
// snapshot's mode given to that file: the chmod is of the entry below
// the target itself, never of what a symlink leads to.
func TestOpenOwnUnreadableSwappedForSymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to act as another user)")
		}
		t.Skip("needs root")
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(filepath.Dir(dir), 0o755))
	must(os.Chmod(dir, 0o755))
	victim := filepath.Join(dir, "bashrc") // the restoring user's own file
	must(os.WriteFile(victim, []byte("mine\n"), 0o600))
	target := filepath.Join(dir, "target")
	must(os.Mkdir(target, 0o777))
	f := filepath.Join(target, "f")
	must(os.WriteFile(f, []byte("restored\n"), 0o266)) // the owner may not read it
	l := filepath.Join(target, "l")
	must(os.Symlink(victim, l))
	for _, p := range []string{victim, target, f} {
		must(os.Lchown(p, 65534, 65534))
	}
	must(unix.Lchown(l, 65534, 65534))
	release, err := fsmeta.Confine(target)
	must(err)
	defer release()

	must(syscall.Setresuid(-1, 65534, -1))
	defer func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(err)
		}
	}()
	raceVerify(t, f, l, victim, "symlink")
}

// The same swap with a hardlink to the restoring user's own file instead
// of a symlink (a user may hardlink a file they can read and write, or
// any with fs.protected_hardlinks=0): the entry below the target is then
// that file itself, so no check of the name can tell; the mode must be
// changed on the inode checked, through one descriptor.
func TestOpenOwnUnreadableSwappedForHardlink(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test needs root (to act as another user)")
		}
		t.Skip("needs root")
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(filepath.Dir(dir), 0o755))
	must(os.Chmod(dir, 0o755))
	victim := filepath.Join(dir, "bashrc") // the restoring user's own file
	must(os.WriteFile(victim, []byte("mine\n"), 0o600))
	target := filepath.Join(dir, "target")
	must(os.Mkdir(target, 0o777))
	f := filepath.Join(target, "f")
	must(os.WriteFile(f, []byte("restored\n"), 0o266)) // the owner may not read it
	for _, p := range []string{victim, target, f} {
		must(os.Lchown(p, 65534, 65534))
	}
	must(os.Chmod(f, 0o266)) // not the umask's
	h := filepath.Join(target, "h")
	must(os.Link(victim, h))
	release, err := fsmeta.Confine(target)
	must(err)
	defer release()

	must(syscall.Setresuid(-1, 65534, -1))
	defer func() {
		if err := syscall.Setresuid(-1, 0, -1); err != nil {
			panic(err)
		}
	}()
	// Unswapped: read back, its mode given back.
	file, err := openOwnUnreadable(f)
	must(err)
	b, err := io.ReadAll(file)
	file.Close()
	must(err)
	var fst unix.Stat_t
	must(unix.Lstat(f, &fst))
	if string(b) != "restored\n" || fst.Mode&0o7777 != 0o266 {
		t.Fatalf("read back %q, mode after %#o; want %q, 0266", b, fst.Mode&0o7777, "restored\n")
	}
	raceVerify(t, f, h, victim, "hardlink")
}

// raceVerify verifies f (as openOwnUnreadable does for a user) again and
// again while another goroutine swaps f with other, and fails once the
// restoring user's own file victim, outside the target, loses its mode
// 0600: what swapped it in is how.
func raceVerify(t *testing.T, f, other, victim, how string) {
	t.Helper()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			unix.Renameat2(unix.AT_FDCWD, f, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE)
		}
	}()
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	for i := 0; i < 20000; i++ {
		if file, err := openOwnUnreadable(f); err == nil {
			file.Close()
		}
		var st unix.Stat_t
		if err := unix.Stat(victim, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != 0o600 {
			t.Fatalf("after %d verifies, the restoring user's own file outside the target (swapped in by a %s) has mode %#o, want 0600", i+1, how, st.Mode&0o7777)
		}
	}
}
