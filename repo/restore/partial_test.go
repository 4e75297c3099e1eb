package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// cutOff stops a restore the way a user does on remote storage: its
// after-th read of a data pack cancels the restore and fails as a read
// cut short fails (an error that does not say it was cancelled), and so
// does every read after it.
type cutOff struct {
	backends.Backend
	n      atomic.Int64
	after  int64 // 0: never
	cancel atomic.Pointer[context.CancelFunc]
}

func (c *cutOff) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.DataBlob.String()+"/") && c.after > 0 && c.n.Add(1) >= c.after {
		if f := c.cancel.Load(); f != nil {
			(*f)()
		}
		return nil, fmt.Errorf("GET %s: unexpected EOF", name)
	}
	return c.Backend.Load(ctx, name, off, length)
}

// partialFixture is a snapshot of a folder holding a big file of many
// chunks (in several 1 MiB packs) with a second hardlinked name, a sparse
// file and small files, in a repository over cutOff.
type partialFixture struct {
	be   *cutOff
	r    *repo.Repository
	sn   *repo.Snapshot
	src  string
	want map[string][]byte
}

func newPartialFixture(t *testing.T) *partialFixture {
	t.Helper()
	ctx := context.Background()
	be := &cutOff{Backend: mem.New()}
	opt := repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF, PackSize: 1 << 20}
	if err := repo.Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	want := map[string][]byte{}
	big := make([]byte, 24<<20) // at least three chunks (8 MiB at most each), whatever the polynomial
	rand.NewChaCha8([32]byte{7}).Read(big)
	want["big.dat"], want["sub/big-link.dat"] = big, big
	os.WriteFile(filepath.Join(src, "big.dat"), big, 0o640)
	if err := os.Link(filepath.Join(src, "big.dat"), filepath.Join(src, "sub", "big-link.dat")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("small%d.txt", i)
		want[name] = bytes.Repeat([]byte(name), 100)
		os.WriteFile(filepath.Join(src, name), want[name], 0o644)
	}
	// sparse.img: 4 MiB, data only at 1 MiB.
	sparse := make([]byte, 4<<20)
	copy(sparse[1<<20:], "data in the middle of holes")
	want["sparse.img"] = sparse
	f, err := os.Create(filepath.Join(src, "sparse.img"))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(4 << 20)
	f.WriteAt([]byte("data in the middle of holes"), 1<<20)
	f.Close()
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	// A fresh handle: nothing cached from the ingest.
	r, err = repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &partialFixture{be: be, r: r, sn: res.Snapshot, src: src, want: want}
}

// run restores the fixture into dst, stopped on the after-th data read
// (0: not stopped), and returns its stats, error and warnings.
func (f *partialFixture) run(t *testing.T, dst string, readPacks bool, ow restore.Overwrite, after int64) (*restore.Stats, error, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.be.n.Store(0)
	f.be.after = after
	f.be.cancel.Store(&cancel)
	var mu sync.Mutex
	var warned []string
	st, err := restore.Run(ctx, f.r, f.sn, f.src, restore.Options{Target: dst, Workers: 2, ReadPacks: readPacks, Overwrite: ow, SkipOwner: true,
		Warn: func(p string, err error) { mu.Lock(); warned = append(warned, p+": "+err.Error()); mu.Unlock() }})
	return st, err, warned
}

// partials lists the temporaries left anywhere under dst.
func partials(t *testing.T, dst string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), restore.PartialSuffix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// A restore stopped half way leaves no file at its final name without all
// of its data, and no temporary either, reading blobs (local storage) or
// runs of packs (remote): the files not complete are counted as stopped,
// not reported as failures, however the interrupted read failed.
func TestStopLeavesNothingPartial(t *testing.T) {
	f := newPartialFixture(t)
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			dst := t.TempDir()
			st, err, warned := f.run(t, dst, readPacks, restore.IfChanged, 2)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("restore: %v, want canceled (loads %d, stats %+v)", err, f.be.n.Load(), st)
			}
			if len(warned) > 0 {
				t.Errorf("a stopped restore reported failures:\n%s", strings.Join(warned, "\n"))
			}
			if p := partials(t, dst); len(p) > 0 {
				t.Errorf("temporaries left behind: %v", p)
			}
			var complete, completeBytes int64
			for name, b := range f.want {
				got, err := os.ReadFile(filepath.Join(dst, name))
				switch {
				case errors.Is(err, os.ErrNotExist):
				case err != nil:
					t.Error(err)
				case !bytes.Equal(got, b):
					t.Errorf("%s is at its final name with %d bytes, not all its data", name, len(got))
				case name != "sub/big-link.dat":
					complete++
					completeBytes += int64(len(b))
				}
			}
			if _, err := os.Stat(filepath.Join(dst, "big.dat")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("big.dat, stopped on its second read, is there: %v", err)
			}
			if st == nil || st.Stopped == 0 || st.Files != complete || st.Bytes > completeBytes || st.Errors != 0 {
				t.Errorf("stats %+v: want the files stopped counted, %d complete files of at most %d bytes, no errors", st, complete, completeBytes)
			}
		})
	}
}

// An existing file that overwrite=always is to replace stays untouched
// by a restore stopped before the new one is complete.
func TestStopKeepsExistingFile(t *testing.T) {
	f := newPartialFixture(t)
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			dst := t.TempDir()
			old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			for _, name := range []string{"big.dat", "sub/big-link.dat"} {
				p := filepath.Join(dst, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte("precious "+name), 0o600)
				os.Chtimes(p, old, old)
			}
			_, err, warned := f.run(t, dst, readPacks, restore.Always, 2)
			if !errors.Is(err, context.Canceled) || len(warned) > 0 {
				t.Fatalf("restore: %v, warnings %v", err, warned)
			}
			for _, name := range []string{"big.dat", "sub/big-link.dat"} {
				p := filepath.Join(dst, name)
				got, err := os.ReadFile(p)
				if err != nil || string(got) != "precious "+name {
					t.Errorf("%s was replaced by a restore that was stopped: %d bytes, %v", name, len(got), err)
				}
				if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(old) {
					t.Errorf("%s was touched: %v", name, err)
				}
			}
			if p := partials(t, dst); len(p) > 0 {
				t.Errorf("temporaries left behind: %v", p)
			}
		})
	}
}

// A complete restore over existing files (overwrite=always) replaces
// them, links the second name of a hardlinked file to the first once it
// is complete, keeps holes and leaves no temporaries.
func TestReplaceKeepsLinksAndHoles(t *testing.T) {
	f := newPartialFixture(t)
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			dst := t.TempDir()
			os.MkdirAll(filepath.Join(dst, "sub"), 0o755)
			os.WriteFile(filepath.Join(dst, "big.dat"), []byte("old"), 0o600)
			os.WriteFile(filepath.Join(dst, "sub", "big-link.dat"), []byte("old link"), 0o600)
			os.Mkdir(filepath.Join(dst, "small0.txt"), 0o755) // a folder in the way
			st, err, warned := f.run(t, dst, readPacks, restore.Always, 0)
			if err != nil || len(warned) > 0 {
				t.Fatalf("restore: %v, warnings %v", err, warned)
			}
			for name, b := range f.want {
				if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || !bytes.Equal(got, b) {
					t.Errorf("%s not restored: %v", name, err)
				}
			}
			a, _ := os.Stat(filepath.Join(dst, "big.dat"))
			b, _ := os.Stat(filepath.Join(dst, "sub", "big-link.dat"))
			if a == nil || b == nil || !os.SameFile(a, b) {
				t.Error("big.dat and sub/big-link.dat are not one file")
			}
			if fi, err := os.Stat(filepath.Join(dst, "sparse.img")); err != nil || fi.Sys().(*syscall.Stat_t).Blocks*512 >= fi.Size() {
				t.Errorf("sparse.img lost its holes: %v", err)
			}
			if st.Files != 7 || st.Links != 1 || st.Stopped != 0 {
				t.Errorf("stats %+v: want 7 files, 1 link", st)
			}
			if p := partials(t, dst); len(p) > 0 {
				t.Errorf("temporaries left behind: %v", p)
			}
		})
	}
}
