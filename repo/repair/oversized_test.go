package repair_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// wholeLoadRefused fails every Load of more than limit bytes of a pack,
// or of a pack to its end whatever its size, as if it would exhaust
// memory.
type wholeLoadRefused struct {
	backends.Backend
	limit int64
}

func (b *wholeLoadRefused) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if _, _, pack := repo.ParsePackName(name); pack && (n > b.limit || n < 0) {
		return nil, fmt.Errorf("loaded %d bytes of %s at once", n, name)
	}
	return b.Backend.Load(ctx, name, off, n)
}

// repair index --read-data loaded every stored pack whole, so a file
// planted or grown under data/ to GiBs cost it that much memory (a 600 MiB
// one: 635 MB RSS). A pack larger than any this repository's writers close
// is now damage, not loaded whole: the blobs the old index places in it are
// read one by one and still salvaged.
func TestRepairReadDataDoesNotLoadOversizedPackWhole(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	max := f.Repo.MaxPackSize()

	// A real pack grown past the largest size (sparse), and a planted one.
	grown := f.PackOf("media/big.bin")
	blobs := f.BlobsInPack(grown)
	grownName := repo.PackName(id.DataBlob, grown)
	if err := os.Truncate(filepath.Join(f.Dir, grownName), max+1); err != nil {
		t.Fatal(err)
	}
	planted := repo.PackName(id.DataBlob, id.ID{0xab, 0xcd})
	if err := os.MkdirAll(filepath.Join(f.Dir, filepath.Dir(planted)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, planted), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(f.Dir, planted), 2*max); err != nil {
		t.Fatal(err)
	}

	be := &wholeLoadRefused{Backend: f.Backend, limit: 64 << 20}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := repair.Index(ctx, r, repair.IndexOptions{ReadData: true})
	if err != nil {
		t.Fatalf("repair index --read-data: %v", err)
	}
	if len(res.Lost) != 0 {
		t.Errorf("lost %d blobs", len(res.Lost))
	}
	damaged := map[string]repair.PackReport{}
	for _, p := range res.Damaged {
		damaged[p.Name] = p
	}
	if p, ok := damaged[grownName]; !ok || p.Blobs != blobs || p.Salvaged != blobs {
		t.Errorf("grown pack: %+v, want damaged with its %d blobs salvaged", p, blobs)
	}
	if _, ok := damaged[planted]; !ok {
		t.Errorf("planted pack not reported damaged: %+v", res.Damaged)
	}
}
