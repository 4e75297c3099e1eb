package repo

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo/crypto"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
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

// CraftTB is the part of testing.TB that TestCraftTree and TestAddEntries
// use, so that CLI test scripts can call them too.
type CraftTB interface {
	Helper()
	Fatal(args ...any)
}

// TestCraftTree stores nodes as one tree blob exactly as given, with no
// check of their names or order, as a damaged or malicious writer could
// have, and returns its ID.
func (r *Repository) TestCraftTree(tb CraftTB, nodes []*tree.Node) id.ID {
	tb.Helper()
	b := []byte("CRNT\x01")
	b = binary.AppendUvarint(b, uint64(len(nodes)))
	for _, n := range nodes {
		nb := tree.EncodeNode(n)
		b = binary.AppendUvarint(b, uint64(len(nb)))
		b = append(b, nb...)
	}
	s := r.NewSaver(context.Background(), 1)
	tid := r.codec.IDFor(id.TreeBlob, b)
	if _, err := s.Save(id.TreeBlob, tid, b); err != nil {
		tb.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		tb.Fatal(err)
	}
	return tid
}

// TestAddEntries saves and returns a copy of sn whose folder at
// CommonDir (where the ingested files are) also holds extra, stored with
// TestCraftTree: names may be invalid.
func (r *Repository) TestAddEntries(tb CraftTB, sn *Snapshot, extra ...*tree.Node) *Snapshot {
	tb.Helper()
	ctx := context.Background()
	var rebuild func(tid id.ID, path []string) id.ID
	rebuild = func(tid id.ID, path []string) id.ID {
		nodes, _, err := r.LoadTreePartial(ctx, tid) // earlier crafted entries go
		if err != nil {
			tb.Fatal(err)
		}
		if len(path) == 0 {
			nodes = append(nodes, extra...)
			return r.TestCraftTree(tb, nodes)
		}
		for _, n := range nodes {
			if n.Name == path[0] && n.Kind == tree.KindDir {
				n.Subtree = rebuild(n.Subtree, path[1:])
				return r.TestCraftTree(tb, nodes)
			}
		}
		nodes = append(nodes, extra...)
		return r.TestCraftTree(tb, nodes)
	}
	c := *sn
	c.Tree = rebuild(sn.Tree, sn.CommonDir())
	c.Time = sn.Time.Add(time.Second)
	c.Summary = nil
	if err := r.SaveSnapshot(ctx, &c); err != nil {
		tb.Fatal(err)
	}
	return &c
}
