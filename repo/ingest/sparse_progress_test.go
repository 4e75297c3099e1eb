package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// The progress counts a sparse file's holes as done: the bytes done
// ended at the data read (4 KiB of a 64 MiB disk image), below the
// scan's total while the ingest ran and below the summary's
// total_bytes_processed once it was over.
func TestProgressCountsHoles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "image")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	if _, err := f.WriteAt([]byte("data"), size/2); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil || st.Blocks*512 >= size {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not sparse (%v): the test needs a filesystem with holes", p, err)
		}
		t.Skipf("%s is not sparse (%v)", p, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small"), []byte("small file"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := repo.TestRepository(t)
	var mu sync.Mutex
	var last ingest.Progress
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{dir}, Host: "h", Source: "s", Progress: func(p ingest.Progress) {
		mu.Lock()
		last = p
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := res.Snapshot.Summary.TotalBytes
	if want != size+int64(len("small file")) {
		t.Fatalf("summary's total bytes %d, want %d", want, size+len("small file"))
	}
	if last.BytesDone != want || last.TotalBytes != want {
		t.Errorf("last progress: %d of %d bytes done, want %d of %d (the summary's total)", last.BytesDone, last.TotalBytes, want, want)
	}
	// The holes are told apart, so that the time left is estimated
	// from the data to read, not from the 64 MiB the image claims.
	if last.HolesDone < size-64<<10 || last.HolesDone >= size || last.TotalHoles != last.HolesDone {
		t.Errorf("last progress: %d of %d hole bytes done, want nearly %d of as many", last.HolesDone, last.TotalHoles, size)
	}
	// An unchanged image is not read again: its holes are counted from
	// what the last ingest recorded.
	if _, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{dir}, Host: "h", Source: "s", Progress: func(p ingest.Progress) {
		mu.Lock()
		last = p
		mu.Unlock()
	}}); err != nil {
		t.Fatal(err)
	}
	if last.BytesDone != want || last.HolesDone < size-64<<10 || last.HolesDone >= size {
		t.Errorf("last progress of the second ingest: %d bytes, %d of them holes, done; want %d, nearly %d holes", last.BytesDone, last.HolesDone, want, size)
	}
}
