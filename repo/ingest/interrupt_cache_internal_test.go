package ingest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// An interrupted first ingest wrote no file-change cache, so the next one
// read every file again, those the first had stored included: hours of
// reading for a large tree stopped near its end. The cache is now written
// a batch at a time as the walk goes (here batches of 20), and what was
// written spares the next ingest those files.
func TestInterruptedIngestKeepsCache(t *testing.T) {
	defer func(n int) { cacheBatch = n }(cacheBatch)
	cacheBatch = 20
	r := repo.TestRepository(t)
	src := t.TempDir()
	const files = 4000
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%04d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := make([]byte, 2000)
		rand.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt := Options{Paths: []string{src}, Host: "h", Source: "s", Interval: time.Millisecond, Progress: func(p Progress) {
		if p.FilesDone >= files/4 {
			cancel()
		}
	}}
	if _, err := Run(ctx, r, opt); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted ingest: %v, want %v", err, ErrInterrupted)
	}
	opt.Progress = nil
	res, err := Run(context.Background(), r, opt)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Snapshot.Summary
	t.Logf("after the interrupted ingest: %d files new, %d unchanged", s.FilesNew, s.FilesUnchanged)
	if s.FilesUnchanged < files/8 {
		t.Errorf("%d files unchanged after an ingest interrupted at %d of %d: want those it stored not read again", s.FilesUnchanged, files/4, files)
	}
}

// The ingest now keeps hashes of the keys it saw, not the keys: the
// entries of files that vanished are still dropped at its end, the others
// kept, those of other paths of the same source untouched.
func TestVanishedFilesLeaveCache(t *testing.T) {
	r := repo.TestRepository(t)
	src, other := t.TempDir(), t.TempDir()
	for _, p := range []string{"keep", "gone", "d/keep", "d/gone"} {
		os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(other, "f"), []byte("other"), 0o644)
	ctx := context.Background()
	for _, paths := range [][]string{{src}, {other}} {
		if _, err := Run(ctx, r, Options{Paths: paths, Host: "h", Source: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(src, "gone"))
	os.Remove(filepath.Join(src, "d", "gone"))
	res, err := Run(ctx, r, Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Snapshot.Summary; s.FilesUnchanged != 2 {
		t.Fatalf("summary %+v, want the 2 files left unchanged", s)
	}
	names := func(dir string) []string {
		var out []string
		if err := r.Index().DirFiles("h\x00s", dir, func(name string, _ []byte, _ func(id.ID) (index.Blob, bool)) { out = append(out, name) }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := fmt.Sprint(names(src), names(filepath.Join(src, "d")), names(other)); got != "[d keep] [keep] [f]" {
		t.Fatalf("cache entries %s, want [d keep] [keep] [f]", got)
	}
}
