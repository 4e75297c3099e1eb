package repo

import (
	"context"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo/crypto"
)

// TestKDF is a cheap argon2id setting for tests; never for real keys.
var TestKDF = crypto.KDFParams{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

// TestPassword opens repositories made by TestRepository.
const TestPassword = "correct horse battery staple"

// TestRepository makes a fresh repository in memory, opened, with its cache
// in a temporary folder. It is closed when the test ends.
func TestRepository(tb testing.TB) *Repository {
	tb.Helper()
	return TestRepositoryOn(tb, mem.New())
}

// TestRepositoryOn initialises and opens a repository on be.
func TestRepositoryOn(tb testing.TB, be backends.Backend) *Repository {
	tb.Helper()
	ctx := context.Background()
	opt := Options{Password: []byte(TestPassword), CacheDir: tb.TempDir(), KDF: &TestKDF}
	if err := Init(ctx, be, opt); err != nil {
		tb.Fatalf("init: %v", err)
	}
	r, err := Open(ctx, be, opt)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// TestSetChunker rewrites the stored config of r (and r's copy) with
// another chunker algorithm, as a newer cairn might have written it.
func (r *Repository) TestSetChunker(tb testing.TB, algorithm string) {
	tb.Helper()
	ctx := context.Background()
	cfg := *r.cfg
	cfg.Chunker.Algorithm = algorithm
	b, err := cfg.marshalSealed(r.key)
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.be.Remove(ctx, "config"); err != nil {
		tb.Fatal(err)
	}
	if err := r.be.Create(ctx, "config", b); err != nil {
		tb.Fatal(err)
	}
	r.cfg = &cfg
	if err := r.deriveChunker(); err != nil {
		tb.Fatal(err)
	}
}

// TestWriteLock stores a lock object holding info, as another process
// (on another host, with another clock) would have left it, and returns
// its name.
func (r *Repository) TestWriteLock(tb testing.TB, info LockInfo) string {
	tb.Helper()
	l := &Lock{r: r, name: "locks/" + randomID().String()}
	if err := l.write(context.Background(), info); err != nil {
		tb.Fatalf("write lock: %v", err)
	}
	return l.name
}
