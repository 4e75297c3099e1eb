package restore_test

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// atDataRead calls check on every read of a data pack.
type atDataRead struct {
	backends.Backend
	check atomic.Pointer[func()]
}

func (a *atDataRead) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.DataBlob.String()+"/") {
		if f := a.check.Load(); f != nil {
			(*f)()
		}
	}
	return a.Backend.Load(ctx, name, off, length)
}

// A large new file is not at its name until it is complete (only an empty
// file that keeps the name taken, which the next restore replaces): a restore
// killed while it writes one (a 6 GiB file takes a minute) left it there
// cut short and newer than the snapshot's copy, and running the restore
// again kept it ("existing file is newer than the snapshot's copy; kept")
// with no error.
func TestLargeNewFileNotAtItsNameUntilComplete(t *testing.T) {
	bctx := context.Background()
	be := &atDataRead{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	data := make([]byte, 24<<20)
	rand.New(rand.NewSource(1)).Read(data)
	if err := os.WriteFile(filepath.Join(src, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	srcTime := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(src, "big"), srcTime, srcTime)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := repo.Open(bctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	dst := t.TempDir()
	final := filepath.Join(dst, "big")
	var early atomic.Int64
	check := func() {
		// Only the empty file that keeps its name taken, with the
		// mode and an mtime (for filesystems without modes) that tell
		// the next restore to replace it.
		if fi, err := os.Lstat(final); err == nil && (fi.Size() != 0 || fi.Mode() != 0o200 || !fi.ModTime().Before(srcTime)) {
			early.Add(1)
		}
	}
	be.check.Store(&check)
	if _, err := restore.Run(bctx, r2, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true}); err != nil {
		t.Fatal(err)
	}
	be.check.Store(nil)
	if n := early.Load(); n > 0 {
		t.Errorf("the large file was at its final name, incomplete, during %d data reads", n)
	}
	got, err := os.ReadFile(final)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restored file: %v, equal %v", err, bytes.Equal(got, data))
	}
	left, _ := filepath.Glob(filepath.Join(dst, "."+"big"+restore.PartialSuffix+"*"))
	if len(left) > 0 {
		t.Errorf("temporaries left: %v", left)
	}
}

// A smaller new file is written at its name; a restore killed outright
// meanwhile leaves it there cut short and newer than the snapshot's copy.
// Running the restore again (if-changed, if-newer) must replace it, not
// keep it as a newer copy with no error, while a file the user changed
// since (newer, any ordinary mode) is still kept. So must --overwrite
// never, the way to finish a killed restore without touching what is
// there: it kept the cut-short file and said nothing.
func TestFileLeftByKilledRestoreIsReplaced(t *testing.T) {
	bctx := context.Background()
	be := &atDataRead{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	data := make([]byte, 3<<20)
	rand.New(rand.NewSource(2)).Read(data)
	for _, name := range []string{"small", "edited"} {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		os.Chtimes(filepath.Join(src, name), old, old)
	}
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	// What a kill in the middle leaves: the file at its name, with the
	// mode it has while it is written.
	dst := t.TempDir()
	var mode atomic.Uint32
	check := func() {
		if fi, err := os.Lstat(filepath.Join(dst, "small")); err == nil && mode.Load() == 0 {
			mode.Store(uint32(fi.Mode().Perm()) | 1<<31)
		}
	}
	be.check.Store(&check)
	if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true}); err != nil {
		t.Fatal(err)
	}
	be.check.Store(nil)
	if mode.Load() == 0 {
		t.Fatal("the small file was not at its name while its data was read")
	}
	writing := os.FileMode(mode.Load() &^ (1 << 31))
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.IfNewer, restore.Never} {
		dst2 := t.TempDir()
		killed, edited := filepath.Join(dst2, "small"), filepath.Join(dst2, "edited")
		if err := os.WriteFile(killed, data[:1<<20], writing); err != nil {
			t.Fatal(err)
		}
		os.Chmod(killed, writing)
		if err := os.WriteFile(edited, []byte("the user's newer copy"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst2, Workers: 2, SkipOwner: true, Overwrite: ow}); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(killed); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%v: the file a killed restore left (mode %v) was kept: %d bytes, %v", ow, writing, len(got), err)
		}
		if got, _ := os.ReadFile(edited); string(got) != "the user's newer copy" {
			t.Errorf("%v: the user's newer file was replaced", ow)
		}
	}
}

// A file whose snapshot mode is 0200 (owner write only) is restored with
// that mode; a user who then adds to it makes it newer than the
// snapshot's copy, and running the restore again (if-changed, if-newer)
// must keep it, not take it for one a killed restore left and replace the
// user's data with the older copy. A killed restore's copy of it is still
// replaced.
func TestWriteOnlyFileEditedByUserIsKept(t *testing.T) {
	bctx := context.Background()
	be := &atDataRead{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	p := filepath.Join(src, "drop")
	if err := os.WriteFile(p, []byte("snapshot's copy\n"), 0o200); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o200)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.IfNewer} {
		dst := t.TempDir()
		drop := filepath.Join(dst, "drop")
		var mode atomic.Uint32
		check := func() {
			if fi, err := os.Lstat(drop); err == nil && mode.Load() == 0 {
				mode.Store(uint32(fi.Mode().Perm()) | 1<<31)
			}
		}
		be.check.Store(&check)
		if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true, Overwrite: ow}); err != nil {
			t.Fatal(err)
		}
		be.check.Store(nil)
		if fi, err := os.Lstat(drop); err != nil || fi.Mode().Perm() != 0o200 {
			t.Fatalf("restored: %v %v, want mode 0200", fi, err)
		}
		f, err := os.OpenFile(drop, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("the user's addition\n")
		f.Close()
		if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true, Overwrite: ow}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(drop); string(got) != "snapshot's copy\nthe user's addition\n" {
			t.Errorf("%v: the user's newer write-only file was replaced: %q", ow, got)
		}
		// What a kill in the middle of writing it leaves is replaced.
		if mode.Load() == 0 {
			t.Fatal("the file was not at its name while its data was read")
		}
		os.Remove(drop)
		if err := os.WriteFile(drop, []byte("snap"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(drop, os.FileMode(mode.Load()&^(1<<31)))
		if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true, Overwrite: ow}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(drop); string(got) != "snapshot's copy\n" {
			t.Errorf("%v: the file a killed restore left was kept: %q", ow, got)
		}
	}
}

// A file written under a temporary name is renamed into place complete
// and then gets the snapshot's mode and times: a restore killed between
// the two left it with the temporary's mode 0600 and the time of its
// writing, newer than the snapshot's copy, so that running the restore
// again (if-newer silently, if-changed "newer ... kept") kept the wrong
// mode, owner and times. The temporary has the writing mode, which the
// next restore takes for a killed one's.
func TestRenamedBeforeMetadataIsReplaced(t *testing.T) {
	bctx := context.Background()
	be := &atDataRead{Backend: mem.New()}
	r := repo.TestRepositoryOn(t, be)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	data := make([]byte, 24<<20)
	rand.New(rand.NewSource(3)).Read(data)
	p := filepath.Join(src, "big")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644) // not less the umask: the snapshot's mode below
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	os.Chtimes(p, old, old)
	res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	// The temporary's mode while it is written, which is the mode it has
	// at its name between the rename and the metadata.
	dst := t.TempDir()
	var mode atomic.Uint32
	check := func() {
		m, _ := filepath.Glob(filepath.Join(dst, ".big"+restore.PartialSuffix+"*"))
		if len(m) == 1 && mode.Load() == 0 {
			if fi, err := os.Lstat(m[0]); err == nil {
				mode.Store(uint32(fi.Mode().Perm()) | 1<<31)
			}
		}
	}
	be.check.Store(&check)
	if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, SkipOwner: true}); err != nil {
		t.Fatal(err)
	}
	be.check.Store(nil)
	if mode.Load() == 0 {
		t.Fatal("no temporary seen while the data was read")
	}
	tmpMode := os.FileMode(mode.Load() &^ (1 << 31))
	for _, ow := range []restore.Overwrite{restore.IfChanged, restore.IfNewer, restore.Never} {
		dst2 := t.TempDir()
		q := filepath.Join(dst2, "big")
		if err := os.WriteFile(q, data, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(q, tmpMode)
		if _, err := restore.Run(bctx, r, res.Snapshot, src, restore.Options{Target: dst2, Workers: 2, SkipOwner: true, Overwrite: ow}); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(q)
		if err != nil || fi.Mode().Perm() != 0o644 || !fi.ModTime().Equal(old) {
			t.Errorf("%v: a file renamed into place by a killed restore (mode %v) was kept: %v %v", ow, tmpMode, fi.Mode(), fi.ModTime())
		}
	}
}
