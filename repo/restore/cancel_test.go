package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// cancelAfter cancels a context on the n-th read of a data pack.
type cancelAfter struct {
	backends.Backend
	n      atomic.Int64
	after  int64
	cancel atomic.Pointer[context.CancelFunc]
}

func (c *cancelAfter) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.DataBlob.String()+"/") && c.n.Add(1) == c.after {
		if f := c.cancel.Load(); f != nil {
			(*f)()
		}
	}
	return c.Backend.Load(ctx, name, off, length)
}

// A restore stopped half way must report every file it left incomplete:
// none may be left at its final size and mtime with chunks never written,
// looking restored (an if-changed restore would then keep it).
func TestCancelReportsIncompleteFiles(t *testing.T) {
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			bctx := context.Background()
			// Reading packs, the whole restore may be one or two
			// reads: cancel on the first.
			after := int64(3)
			if readPacks {
				after = 1
			}
			be := &cancelAfter{Backend: mem.New(), after: after}
			r := repo.TestRepositoryOn(t, be)
			src := filepath.Join(t.TempDir(), "src")
			os.MkdirAll(src, 0o755)
			want := map[string][]byte{}
			for i := 0; i < 300; i++ {
				name := fmt.Sprintf("f%03d", i)
				b := bytes.Repeat([]byte(name), 700+i)
				want[name] = b
				os.WriteFile(filepath.Join(src, name), b, 0o644)
			}
			res, err := ingest.Run(bctx, r, ingest.Options{Paths: []string{src}})
			if err != nil {
				t.Fatal(err)
			}
			// A fresh handle: nothing cached from the ingest.
			r2, err := repo.Open(bctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			ctx, cancel := context.WithCancel(bctx)
			defer cancel()
			be.n.Store(0)
			be.cancel.Store(&cancel)
			dst := t.TempDir()
			var mu sync.Mutex
			warned := map[string]bool{}
			_, err = restore.Run(ctx, r2, res.Snapshot, src, restore.Options{Target: dst, Workers: 2, ReadPacks: readPacks, SkipOwner: true,
				Warn: func(p string, err error) { mu.Lock(); warned[p] = true; mu.Unlock() }})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("restore: %v, want canceled", err)
			}
			for name, b := range want {
				p := filepath.Join(dst, name)
				got, err := os.ReadFile(p)
				if err != nil || bytes.Equal(got, b) {
					continue // not created, or complete
				}
				if !warned[p] {
					t.Errorf("%s was left incomplete (%d bytes) without a warning", name, len(got))
				}
			}
		})
	}
}
