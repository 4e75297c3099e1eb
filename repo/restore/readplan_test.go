package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// countingDamager counts reads of data packs and flips one byte of one
// pack in what it returns.
type countingDamager struct {
	backends.Backend
	reads   atomic.Int64
	pack    atomic.Pointer[string]
	damaged int64 // offset in pack of the byte flipped
}

func (c *countingDamager) Load(ctx context.Context, name string, off, length int64) ([]byte, error) {
	if strings.HasPrefix(name, id.DataBlob.String()+"/") {
		c.reads.Add(1)
	}
	b, err := c.Backend.Load(ctx, name, off, length)
	if p := c.pack.Load(); err == nil && p != nil && *p == name && c.damaged >= off && c.damaged < off+int64(len(b)) {
		b = bytes.Clone(b)
		b[c.damaged-off] ^= 0x55
	}
	return b, err
}

// Reading packs, a restore of many small files spread over several packs
// reads each pack once, and a damaged blob in the middle of a pack costs
// its file alone (with one more read, to try that blob again).
func TestReadPacksOneRequestPerPack(t *testing.T) {
	ctx := context.Background()
	be := &countingDamager{Backend: mem.New()}
	opt := repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF, PackSize: 1 << 20}
	if err := repo.Init(ctx, be, opt); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := filepath.Join(t.TempDir(), "src")
	want := map[string][]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 600; i++ {
		dir := filepath.Join(src, fmt.Sprintf("d%d", i%7))
		os.MkdirAll(dir, 0o755)
		b := make([]byte, 2000+rng.IntN(6000))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		want[p] = b
		os.WriteFile(p, b, 0o644)
	}
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}})
	if err != nil {
		t.Fatal(err)
	}
	packs, err := r.ListPacks(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dataPacks := int64(0)
	for _, p := range packs {
		if p.Type == id.DataBlob {
			dataPacks++
		}
	}
	if dataPacks < 3 {
		t.Fatalf("%d data packs; the test wants several", dataPacks)
	}

	restoreAll := func() (string, []string, error) {
		dst := t.TempDir()
		var mu sync.Mutex
		var warned []string
		be.reads.Store(0)
		_, err := restore.Run(ctx, r, res.Snapshot, src, restore.Options{Target: dst, ReadPacks: true, SkipOwner: true,
			Warn: func(p string, err error) { mu.Lock(); warned = append(warned, p+": "+err.Error()); mu.Unlock() }})
		return dst, warned, err
	}
	check := func(dst, except string) {
		t.Helper()
		for p, b := range want {
			rel, _ := filepath.Rel(src, p)
			if rel == except {
				continue
			}
			got, err := os.ReadFile(filepath.Join(dst, rel))
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("%s: not restored (%v)", rel, err)
			}
		}
	}

	dst, warned, err := restoreAll()
	if err != nil || len(warned) > 0 {
		t.Fatalf("restore: %v %v", err, warned)
	}
	check(dst, "")
	if n := be.reads.Load(); n != dataPacks {
		t.Errorf("%d reads of data packs for %d data packs, want one each", n, dataPacks)
	}

	// Damage a blob with needed blobs on both sides in its pack.
	var victim string
	for p := range want {
		rel, _ := filepath.Rel(src, p)
		n, _, err := restore.Find(ctx, r, res.Snapshot, p)
		if err != nil || len(n.Content) != 1 {
			continue
		}
		loc, ok, _ := r.LookupBlob(n.Content[0].ID)
		if !ok || loc.Offset < 64<<10 || int64(loc.Offset)+int64(loc.Length)+(64<<10) > int64(packs[loc.Pack].Size) {
			continue
		}
		name := repo.PackName(id.DataBlob, loc.Pack)
		be.damaged = int64(loc.Offset) + int64(loc.Length)/2
		be.pack.Store(&name)
		victim = rel
		break
	}
	if victim == "" {
		t.Fatal("no blob in the middle of a pack")
	}
	dst, warned, err = restoreAll()
	if !errors.Is(err, restore.ErrIncomplete) {
		t.Fatalf("restore over a damaged blob: %v, want ErrIncomplete", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], victim) || !strings.Contains(warned[0], *be.pack.Load()) {
		t.Fatalf("want one warning naming %s and its pack %s, got:\n%s", victim, *be.pack.Load(), strings.Join(warned, "\n"))
	}
	check(dst, victim)
	if n := be.reads.Load(); n != dataPacks+1 {
		t.Errorf("%d reads of data packs for %d data packs and one damaged blob, want %d", n, dataPacks, dataPacks+1)
	}
}
