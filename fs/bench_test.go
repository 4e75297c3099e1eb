package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	cfs "github.com/cairn-backup/cairn/fs"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
)

// BenchmarkListThousandSnapshots measures what a user waits for after
// mounting a repository of 1,000 snapshots: mounting, then ls -l of
// snapshots/ (a listing and a stat of every entry).
//
//	go test ./fs -run '^$' -bench ListThousandSnapshots -benchtime 5x
func BenchmarkListThousandSnapshots(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to mount")
	}
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), "srv", "www")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("<p>hello</p>"), 0o644)
	be, err := local.Create(filepath.Join(b.TempDir(), "repo"))
	if err != nil {
		b.Fatal(err)
	}
	r := repo.TestRepositoryOn(b, be)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "h", Source: "s"})
	if err != nil {
		b.Fatal(err)
	}
	// 999 more snapshot objects of the same tree, a minute apart.
	for i := 1; i < 1000; i++ {
		sn := *res.Snapshot
		sn.Time = sn.Time.Add(time.Duration(i) * time.Minute)
		sn.Tags = []string{[]string{"daily", "weekly", "monthly"}[i%3]}
		if err := r.SaveSnapshot(ctx, &sn); err != nil {
			b.Fatal(err)
		}
	}
	mnt := filepath.Join(b.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	b.ResetTimer()
	for range b.N {
		m, err := cfs.Mount(ctx, r, mnt, cfs.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ents, err := os.ReadDir(filepath.Join(mnt, "snapshots"))
		if err != nil || len(ents) != 1000 {
			b.Fatalf("snapshots/: %d entries, %v", len(ents), err)
		}
		for _, e := range ents {
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(mnt, "snapshots", e.Name()), &st); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := m.Unmount(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
