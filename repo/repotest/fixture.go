package repotest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// Host is the host name the fixture's snapshots carry.
const Host = "fixture"

// PackSize is the fixture's data pack size: the smallest allowed, so that
// a few MiB of source make several packs.
const PackSize = 1 << 20

// Fixture is a repository on a local folder holding snapshots of a
// generated source folder. Its methods fail the test on any error.
type Fixture struct {
	Dir          string // the repository folder
	Source       string // the generated source folder, absolute, as ingested
	PasswordFile string // holds repo.TestPassword, for the cairn binary
	Backend      *local.Local
	// Repo is an open handle with a cache of its own, closed when the test
	// ends. Damage functions keep its local index in step with storage.
	Repo *repo.Repository
	// Snapshots are the fixture's snapshots, oldest first: the first
	// ingest of Source, then one after some of it changed, then any made
	// by Ingest.
	Snapshots []*repo.Snapshot

	tb       testing.TB
	ctx      context.Context
	cliCache string
	entries  map[id.ID][]entry // per snapshot, every node, parents first
}

// entry is one node of a snapshot, recorded when the snapshot was made.
type entry struct {
	path    string // absolute, as in the snapshot
	kind    tree.Kind
	blobs   []id.ID // a file's data blobs
	subtree id.ID   // a folder's tree
}

// New builds a fixture: a repository in a temporary folder and two
// snapshots of a generated source. It takes about a second.
func New(tb testing.TB) *Fixture {
	tb.Helper()
	dir := tb.TempDir()
	f := &Fixture{
		Dir:      filepath.Join(dir, "repo"),
		Source:   filepath.Join(dir, "src"),
		tb:       tb,
		ctx:      context.Background(),
		cliCache: filepath.Join(dir, "cli-cache"),
		entries:  map[id.ID][]entry{},
	}
	f.PasswordFile = filepath.Join(dir, "password")
	f.check(os.WriteFile(f.PasswordFile, []byte(repo.TestPassword+"\n"), 0o600))
	be, err := local.Create(f.Dir)
	f.check(err)
	f.Backend = be
	opt := f.options(filepath.Join(dir, "cache"))
	f.check(repo.Init(f.ctx, be, opt))
	f.Repo, err = repo.Open(f.ctx, be, opt)
	f.check(err)
	tb.Cleanup(func() { f.Repo.Close() })

	rng := rand.New(rand.NewChaCha8([32]byte{'c', 'a', 'i', 'r', 'n'}))
	writeSource(f, rng, 1)
	f.Ingest()
	writeSource(f, rng, 2)
	f.Ingest()
	return f
}

func (f *Fixture) options(cache string) repo.Options {
	return repo.Options{Password: []byte(repo.TestPassword), CacheDir: cache, KDF: &repo.TestKDF, CheckpointBytes: 1, PackSize: PackSize}
}

func (f *Fixture) check(err error) {
	f.tb.Helper()
	if err != nil {
		f.tb.Fatalf("repotest: %v", err)
	}
}

// writeSource writes the first version of the source (step 1) or changes
// it for the second snapshot (step 2).
func writeSource(f *Fixture, rng *rand.Rand, step int) {
	// Modes are set, not left to the umask (077 on some machines), so
	// that the snapshots hold 0755 folders and 0644 files everywhere.
	mkdir := func(rel string) {
		f.check(os.MkdirAll(filepath.Join(f.Source, rel), 0o755))
		for d := rel; ; d = filepath.Dir(d) {
			f.check(os.Chmod(filepath.Join(f.Source, d), 0o755))
			if d == "." {
				return
			}
		}
	}
	put := func(rel string, b []byte) {
		p := filepath.Join(f.Source, rel)
		mkdir(filepath.Dir(rel))
		f.check(os.WriteFile(p, b, 0o644))
		f.check(os.Chmod(p, 0o644))
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(name string, lines int) []byte {
		var sb strings.Builder
		for i := 0; i < lines; i++ {
			fmt.Fprintf(&sb, "%s: line %d of %d\n", name, i+1, lines)
		}
		return []byte(sb.String())
	}
	switch step {
	case 1:
		put("docs/a.txt", text("a", 120))
		put("docs/b.txt", text("b", 80))
		put("docs/notes/todo.txt", text("todo", 5))
		put("media/big.bin", random(3<<20))
		put("media/clip.bin", random(2<<20+123))
		for i := 0; i < 6; i++ {
			put(fmt.Sprintf("small/s%d", i), random(1<<10+i*7<<10))
		}
		f.check(os.Symlink("docs/a.txt", filepath.Join(f.Source, "link")))
		mkdir("empty")
	case 2:
		put("docs/b.txt", text("b, second version", 90))
		put("media/new.bin", random(3<<19))
		f.check(os.Remove(filepath.Join(f.Source, "small/s5")))
	}
}

// Ingest ingests Source again, an hour after the last snapshot, records the
// new snapshot in Snapshots and returns it.
func (f *Fixture) Ingest() *repo.Snapshot {
	f.tb.Helper()
	t := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	if n := len(f.Snapshots); n > 0 {
		t = f.Snapshots[n-1].Time.Add(time.Hour)
	}
	res, err := ingest.Run(f.ctx, f.Repo, ingest.Options{Paths: []string{f.Source}, Host: Host, Time: t,
		Warn: func(p string, err error) { f.tb.Errorf("repotest: ingest %s: %v", p, err) }})
	f.check(err)
	f.record(res.Snapshot)
	f.Snapshots = append(f.Snapshots, res.Snapshot)
	return res.Snapshot
}

// record notes every node of sn, for computing what a damage affects.
func (f *Fixture) record(sn *repo.Snapshot) {
	var es []entry
	err := f.Repo.Walk(f.ctx, sn, func(p string, n *tree.Node) (bool, error) {
		e := entry{path: "/" + p, kind: n.Kind, subtree: n.Subtree}
		if n.Kind == tree.KindFile {
			e.blobs = n.Blobs()
		}
		es = append(es, e)
		return true, nil
	}, nil)
	f.check(err)
	f.entries[sn.ID] = es
}

// Latest is the newest of Snapshots.
func (f *Fixture) Latest() *repo.Snapshot { return f.Snapshots[len(f.Snapshots)-1] }

// Path is the absolute path inside the snapshots of rel, a path relative
// to Source ("media/big.bin").
func (f *Fixture) Path(rel string) string {
	return path.Join(filepath.ToSlash(f.Source), rel)
}

// Open opens another handle on the repository with a cache of its own, as
// another host would; it is closed when the test ends. mods adjust the
// options (a fake clock, say).
func (f *Fixture) Open(mods ...func(*repo.Options)) *repo.Repository {
	f.tb.Helper()
	opt := f.options(f.tb.TempDir())
	for _, m := range mods {
		m(&opt)
	}
	r, err := repo.Open(f.ctx, f.Backend, opt)
	f.check(err)
	f.tb.Cleanup(func() { r.Close() })
	return r
}

// Sync brings Repo's local index and snapshot catalogue in step with
// storage, after something else (the cairn binary, a repair) changed it.
func (f *Fixture) Sync() {
	f.tb.Helper()
	f.check(f.Repo.SyncIndex(f.ctx))
	_, err := f.Repo.Snapshots(f.ctx, func(error) {})
	f.check(err)
}

// Restore restores all of sn into target with Repo and returns the
// warnings ("path: error") and restore's error.
func (f *Fixture) Restore(sn *repo.Snapshot, target string) ([]string, error) {
	f.tb.Helper()
	var mu sync.Mutex // restore warns from its workers
	var warned []string
	_, err := restore.Run(f.ctx, f.Repo, sn, "/", restore.Options{Target: target, SkipOwner: os.Geteuid() != 0, Workers: 2,
		Warn: func(p string, err error) {
			mu.Lock()
			warned = append(warned, p+": "+err.Error())
			mu.Unlock()
		}})
	return warned, err
}

// Env is the environment for running the cairn binary on the fixture:
// repository, password file, and a cache folder of its own.
func (f *Fixture) Env() []string {
	return []string{"CAIRN_REPOSITORY=" + f.Dir, "CAIRN_PASSWORD_FILE=" + f.PasswordFile, "CAIRN_CACHE_DIR=" + f.cliCache}
}

// BlobOf returns, in the latest snapshot, the first data blob of the file
// at rel (relative to Source), or the tree of the folder at rel ("" or "."
// for the root).
func (f *Fixture) BlobOf(rel string) id.ID {
	f.tb.Helper()
	return f.blobOf(f.Latest(), rel)
}

// PackOf returns the pack holding BlobOf(rel).
func (f *Fixture) PackOf(rel string) id.ID {
	f.tb.Helper()
	bid := f.blobOf(f.Latest(), rel)
	v := f.view()
	ps := v.locs[bid]
	if len(ps) == 0 {
		f.tb.Fatalf("repotest: blob %s of %s is in no index segment", bid.Short(), rel)
	}
	return ps[0]
}

// PacksOf returns every pack holding a data blob of the file at rel in
// the latest snapshot, once each, in the order of the file's chunks.
func (f *Fixture) PacksOf(rel string) []id.ID {
	f.tb.Helper()
	want := f.Path(rel)
	v := f.view()
	var out []id.ID
	seen := map[id.ID]bool{}
	for _, e := range f.entries[f.Latest().ID] {
		if e.path != want {
			continue
		}
		for _, bid := range e.blobs {
			ps := v.locs[bid]
			if len(ps) == 0 {
				f.tb.Fatalf("repotest: blob %s of %s is in no index segment", bid.Short(), rel)
			}
			if !seen[ps[0]] {
				seen[ps[0]] = true
				out = append(out, ps[0])
			}
		}
	}
	if len(out) == 0 {
		f.tb.Fatalf("repotest: %s has no data in any indexed pack", rel)
	}
	return out
}

// BlobsInPack returns how many blobs the index lists in pack pid. Which
// blobs share a pack depends on the order the ingest's workers finished
// them, so a test that needs company for a blob asks.
func (f *Fixture) BlobsInPack(pid id.ID) int {
	f.tb.Helper()
	return len(f.view().packs[pid].Blobs)
}

// blobOf finds the first data blob of a file, or the tree of a folder.
func (f *Fixture) blobOf(sn *repo.Snapshot, rel string) id.ID {
	f.tb.Helper()
	want := f.Path(rel)
	if rel == "" || rel == "." {
		return sn.Tree
	}
	for _, e := range f.entries[sn.ID] {
		if e.path != want {
			continue
		}
		if e.kind == tree.KindDir {
			return e.subtree
		}
		if len(e.blobs) == 0 {
			f.tb.Fatalf("repotest: %s has no data", rel)
		}
		return e.blobs[0]
	}
	f.tb.Fatalf("repotest: %s is not in snapshot %s", rel, sn.ID.Short())
	return id.ID{}
}

// Files lists the paths of Source relative to it, for comparing restores.
func (f *Fixture) Files() []string {
	var out []string
	err := filepath.WalkDir(f.Source, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != f.Source {
			rel, _ := filepath.Rel(f.Source, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		f.check(err)
	}
	return out
}
