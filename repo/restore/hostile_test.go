package restore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A folder the restore is filling, swapped for a symlink to a folder
// outside the target (by another user of a shared folder) while it runs,
// must not send what is restored next outside: the restore fails for
// those paths, and the outside folder keeps its content, modes and names.
func TestRestoreFolderSwappedForSymlink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	const n = 200
	for i := 0; i < n; i++ {
		must(t, os.WriteFile(filepath.Join(src, "d", fmt.Sprintf("f%03d", i)), []byte(fmt.Sprintf("snapshot %d\n", i)), 0o644))
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	must(t, os.Mkdir(outside, 0o700))
	for i := 0; i < n; i++ {
		must(t, os.WriteFile(filepath.Join(outside, fmt.Sprintf("f%03d", i)), []byte("outside\n"), 0o600))
	}
	dst := filepath.Join(dir, "dst")
	must(t, os.Mkdir(dst, 0o755))
	must(t, os.Symlink(outside, filepath.Join(dst, "x")))
	var once sync.Once
	var swapErr error
	var warned []string
	_, err = restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: dst, Workers: 1, SkipOwner: os.Geteuid() != 0,
		Warn: func(p string, err error) { warned = append(warned, p+": "+err.Error()) },
		Item: func(p string, a restore.Action, size uint64) {
			if strings.HasPrefix(p, filepath.Join(dst, "d")+"/") {
				once.Do(func() {
					swapErr = unix.Renameat2(unix.AT_FDCWD, filepath.Join(dst, "d"), unix.AT_FDCWD, filepath.Join(dst, "x"), unix.RENAME_EXCHANGE)
				})
			}
		}})
	if swapErr != nil {
		t.Fatalf("renameat2: %v", swapErr)
	}
	if err == nil {
		t.Error("restore through a folder swapped for a symlink succeeded")
	}
	for _, w := range warned {
		// Said of the symlink found on the way, not blamed on the
		// target filesystem.
		if strings.Contains(w, "may not support") || strings.HasPrefix(w, filepath.Join(dst, "d")+"/") && !strings.Contains(w, "symlink") {
			t.Errorf("warning: %s", w)
		}
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Errorf("outside holds %d entries, want %d", len(ents), n)
	}
	for _, e := range ents {
		p := filepath.Join(outside, e.Name())
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "outside\n" {
			t.Errorf("%s outside the target was written: %q %v", p, b, err)
		}
		if fi, err := os.Lstat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s outside the target was changed: %v %v", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Lstat(outside); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder outside the target was changed: %v %v", fi.Mode(), err)
	}
}

// onFirstData calls hook before the first read of a data pack.
type onFirstData struct {
	backends.Backend
	once sync.Once
	hook func()
}

func (o *onFirstData) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.DataBlob.String()+"/") {
		o.once.Do(o.hook)
	}
	return o.Backend.Load(ctx, name, off, length)
}

// A file being written under its temporary name, which another user
// replaces with a hardlink to a file outside the target, must not give
// that file the snapshot's mode, times or content, nor be reported
// restored.
func TestRestoreTempSwappedForHardlink(t *testing.T) {
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			must(t, os.Mkdir(src, 0o755))
			big := make([]byte, 17<<20)
			rand.New(rand.NewSource(1)).Read(big)
			must(t, os.WriteFile(filepath.Join(src, "big"), big, 0o644))
			be := &onFirstData{Backend: mem.New()}
			r := repo.TestRepositoryOn(t, be)
			res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
			if err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(dir, "secret")
			must(t, os.WriteFile(secret, []byte("precious\n"), 0o600))
			old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			must(t, os.Chtimes(secret, old, old))
			dst := filepath.Join(dir, "dst")
			must(t, os.Mkdir(dst, 0o755))
			var swapErr error
			be.hook = func() {
				swapErr = errors.New("no temporary found")
				ents, _ := os.ReadDir(dst)
				for _, e := range ents {
					if strings.Contains(e.Name(), restore.PartialSuffix) {
						swp := filepath.Join(dst, ".swp")
						if swapErr = os.Link(secret, swp); swapErr == nil {
							swapErr = os.Rename(swp, filepath.Join(dst, e.Name()))
						}
					}
				}
			}
			_, err = restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, ReadPacks: readPacks, SkipOwner: os.Geteuid() != 0})
			if swapErr != nil {
				t.Fatalf("swap: %v", swapErr)
			}
			if err == nil {
				t.Error("restore of a file swapped for another reported success")
			}
			b, rerr := os.ReadFile(secret)
			fi, serr := os.Lstat(secret)
			if rerr != nil || serr != nil || string(b) != "precious\n" || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(old) {
				t.Errorf("file outside the target changed: %d bytes, %v, %v (%v %v)", len(b), fi.Mode(), fi.ModTime(), rerr, serr)
			}
		})
	}
}

// The same with the target given as ".", as restic users do from inside
// it: paths below it ("d/f000") are confined too.
func TestRestoreIntoDotFolderSwappedForSymlink(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	const n = 50
	for i := 0; i < n; i++ {
		must(t, os.WriteFile(filepath.Join(src, "d", fmt.Sprintf("f%03d", i)), []byte(fmt.Sprintf("snapshot %d\n", i)), 0o644))
	}
	r := repo.TestRepository(t)
	res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	must(t, os.Mkdir(outside, 0o700))
	dst := filepath.Join(dir, "dst")
	must(t, os.Mkdir(dst, 0o755))
	must(t, os.Symlink(outside, filepath.Join(dst, "x")))
	t.Chdir(dst)
	var once sync.Once
	var swapErr error
	_, err = restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: ".", Workers: 1, SkipOwner: os.Geteuid() != 0,
		Warn: func(p string, err error) {},
		Item: func(p string, a restore.Action, size uint64) {
			if strings.HasPrefix(p, "d/") {
				once.Do(func() {
					swapErr = unix.Renameat2(unix.AT_FDCWD, "d", unix.AT_FDCWD, "x", unix.RENAME_EXCHANGE)
				})
			}
		}})
	if swapErr != nil {
		t.Fatalf("renameat2: %v", swapErr)
	}
	if err == nil {
		t.Error("restore through a folder swapped for a symlink succeeded")
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s written outside the target", filepath.Join(outside, e.Name()))
	}
}

// A restored file's name, given by another user to a hardlink of a file
// outside the target once the file is written (the attacker watches for
// its closing with inotify) and before its metadata is set, must not give
// that file the snapshot's mode and times: the metadata goes to the file
// written, through its descriptor. Many xattrs make the setting of the
// metadata long enough for the swap to land in it, had it been by name.
func TestRestoreMetadataNotToSwappedName(t *testing.T) {
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			must(t, os.Mkdir(src, 0o755))
			const files = 20
			snapTime := time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)
			for i := range files {
				p := filepath.Join(src, fmt.Sprint("f", i))
				must(t, os.WriteFile(p, []byte{byte(i)}, 0o600))
				for x := range 300 {
					err := unix.Setxattr(p, fmt.Sprintf("user.x%03d", x), []byte("v"), 0)
					if errors.Is(err, unix.ENOSPC) && x > 0 {
						break // as many as the filesystem holds
					}
					if err != nil {
						if os.Getenv("CI") == "true" {
							t.Fatalf("user xattrs: %v", err)
						}
						t.Skipf("user xattrs: %v", err)
					}
				}
				must(t, os.Chmod(p, 0o751))
				must(t, os.Chtimes(p, snapTime, snapTime))
			}
			r := repo.TestRepositoryOn(t, mem.New())
			res, err := ingest.Run(context.Background(), r, ingest.Options{Paths: []string{src}})
			if err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(dir, "secret")
			must(t, os.WriteFile(secret, []byte("precious\n"), 0o600))
			old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			must(t, os.Chtimes(secret, old, old))
			dst := filepath.Join(dir, "dst")
			out := dst
			must(t, os.Mkdir(out, 0o755))
			in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := unix.InotifyAddWatch(in, out, unix.IN_CLOSE_WRITE); err != nil {
				t.Fatal(err)
			}
			swapped := make(chan int)
			go func() {
				// The attacker: each file closed after writing is
				// swapped at once, until the restore is over.
				n := 0
				defer func() { swapped <- n }()
				buf := make([]byte, 64<<10)
				for {
					k, err := unix.Read(in, buf)
					if err != nil || k <= 0 {
						return
					}
					for b := buf[:k]; len(b) >= unix.SizeofInotifyEvent; {
						ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
						name := strings.TrimRight(string(b[unix.SizeofInotifyEvent:unix.SizeofInotifyEvent+ev.Len]), "\x00")
						b = b[unix.SizeofInotifyEvent+ev.Len:]
						if name == "end" {
							return
						}
						if ev.Mask&unix.IN_CLOSE_WRITE == 0 || !strings.HasPrefix(name, "f") {
							continue
						}
						swp := filepath.Join(out, ".swp")
						if os.Link(secret, swp) == nil && os.Rename(swp, filepath.Join(out, name)) == nil {
							n++
						}
					}
				}
			}()
			restore.Run(context.Background(), r, res.Snapshot, src, restore.Options{Target: dst, Workers: 4, ReadPacks: readPacks, SkipOwner: os.Geteuid() != 0})
			must(t, os.WriteFile(filepath.Join(out, "end"), nil, 0o600)) // stops the attacker
			n := <-swapped
			unix.Close(in)
			if n == 0 {
				t.Fatal("no file swapped")
			}
			fi, err := os.Lstat(secret)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(old) {
				t.Errorf("file outside the target given a restored file's metadata: %v, %v", fi.Mode(), fi.ModTime())
			}
		})
	}
}
