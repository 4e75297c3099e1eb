package restore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

var update = flag.Bool("update", false, "regenerate the golden repository in testdata/ (only when the format changes on purpose)")

const goldenDir = "../../testdata/golden-v1"

// manifestEntry is what the golden repository must restore for one path.
type manifestEntry struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
	MTime  int64  `json:"mtime_ns"`
}

func goldenSource(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "docs/empty"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "docs/readme.txt"), []byte("cairn golden repository, format version 1\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	big := make([]byte, 3<<20) // several chunks
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	copy(big[1<<20:], make([]byte, 512<<10)) // a run of zeros
	must(os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o640))
	text := []byte{}
	for i := 0; len(text) < 200<<10; i++ {
		text = append(text, []byte("line of compressible text, number "+string(rune('a'+i%26))+"\n")...)
	}
	must(os.WriteFile(filepath.Join(dir, "docs/text.log"), text, 0o644))
	must(os.Symlink("docs/readme.txt", filepath.Join(dir, "link")))
	must(os.Link(filepath.Join(dir, "docs/readme.txt"), filepath.Join(dir, "hardlink.txt")))
	f, err := os.Create(filepath.Join(dir, "sparse.img"))
	must(err)
	_, err = f.WriteAt([]byte("after the hole"), 4<<20)
	must(err)
	must(f.Close())
	ts := time.Date(2026, 11, 26, 4, 0, 1, 123456789, time.UTC)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		must(err)
		if d.Type()&fs.ModeSymlink == 0 {
			must(os.Chtimes(p, ts, ts))
		}
		return nil
	})
}

func manifest(t *testing.T, dir string) []manifestEntry {
	t.Helper()
	var out []manifestEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		e := manifestEntry{Path: rel, Mode: fi.Mode().String()}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			e.Size, e.SHA256, e.MTime = fi.Size(), hex.EncodeToString(sum[:]), fi.ModTime().UnixNano()
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		default:
			e.MTime = fi.ModTime().UnixNano()
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// TestGoldenRepository opens a repository written by an earlier cairn and
// restores it. A change that breaks reading old repositories fails here;
// regenerate with -update only when the format changes on purpose (and
// bump the version in the folder name).
func TestGoldenRepository(t *testing.T) {
	ctx := context.Background()
	if *update {
		src := filepath.Join(t.TempDir(), "golden-source")
		goldenSource(t, src)
		os.RemoveAll(goldenDir)
		be, err := local.Create(filepath.Join(goldenDir, "repo"))
		if err != nil {
			t.Fatal(err)
		}
		r := repo.TestRepositoryOn(t, be)
		if _, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{src}, Host: "golden", Source: "fixture", Tags: []string{"v1"},
			Time: time.Date(2026, 11, 26, 4, 0, 1, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		b, _ := json.MarshalIndent(manifest(t, src), "", "  ")
		if err := os.WriteFile(filepath.Join(goldenDir, "manifest.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(goldenDir, "password"), []byte(repo.TestPassword+"\n"), 0o644)
	}
	var want []manifestEntry
	b, err := os.ReadFile(filepath.Join(goldenDir, "manifest.json"))
	if err != nil {
		t.Fatalf("golden manifest: %v (generate with go test -run TestGoldenRepository -update)", err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	// Work on a copy: opening may add nothing, but a test must never
	// change the fixture.
	repoCopy := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(repoCopy, os.DirFS(filepath.Join(goldenDir, "repo"))); err != nil {
		t.Fatal(err)
	}
	be, err := local.Open(repoCopy)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open golden repository: %v", err)
	}
	defer r.Close()
	sn, err := r.FindSnapshot(ctx, "latest", repo.Filter{Hosts: []string{"golden"}, Sources: []string{"fixture"}, Tags: []repo.TagList{{"v1"}}})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, sn, sn.Paths[0], restore.Options{Target: dst, SkipOwner: os.Geteuid() != 0}); err != nil {
		t.Fatalf("restore golden snapshot: %v", err)
	}
	got := manifest(t, dst)
	gb, _ := json.MarshalIndent(got, "", "  ")
	if string(gb) != string(b) {
		t.Fatalf("golden restore differs.\nwant:\n%s\ngot:\n%s", b, gb)
	}
	// It was made before the gear chunker, and new data is still cut as
	// it was: the same source again adds no data blob.
	if a := r.Config().Chunker.ChunkerAlgorithm(); a != repo.ChunkerRabin {
		t.Fatalf("golden repository chunker %q, want %q", a, repo.ChunkerRabin)
	}
	again := filepath.Join(t.TempDir(), "golden-source")
	goldenSource(t, again)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{again}, Host: "golden", Source: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Snapshot.Summary.DataBlobs; n != 0 {
		t.Fatalf("ingesting the golden source again stored %d new data blobs: its chunks are no longer cut alike", n)
	}
	if _, err := repo.Open(ctx, be, repo.Options{Password: []byte("wrong"), CacheDir: t.TempDir()}); err == nil {
		t.Fatal("golden repository opened with a wrong password")
	}
}
