package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/tree"
)

type savedBlob struct {
	t     id.BlobType
	id    id.ID
	plain []byte
}

// saveBlobs stores a mix of data blobs and one tree through a Saver.
func saveBlobs(t *testing.T, r *repo.Repository, rng *rand.Rand) []savedBlob {
	t.Helper()
	ctx := context.Background()
	s := r.NewSaver(ctx, 1)
	var out []savedBlob
	for _, n := range []int{0, 1, 100, 5000, 70 << 10} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if n == 5000 {
			b = bytes.Repeat([]byte("compressible "), 400)
		}
		bid := r.Codec().ID(b)
		if _, err := s.Save(id.DataBlob, bid, b); err != nil {
			t.Fatal(err)
		}
		out = append(out, savedBlob{id.DataBlob, bid, b})
	}
	nodes := []*tree.Node{{Name: "f", Kind: tree.KindFile, Mode: 0o644, Size: 1, Content: []tree.Chunk{{ID: out[1].id, Size: 1}}}}
	tid, err := s.SaveTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := tree.Encode(nodes)
	out = append(out, savedBlob{id.TreeBlob, tid, tb})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

var packName = regexp.MustCompile(`\b(data|tree)/[0-9a-f]{2}/[0-9a-f]{64}\b`)

// A damaged byte anywhere in a stored blob makes LoadBlob fail with
// ErrDamaged and an error that names the pack, while the other blobs of
// that pack stay readable.
func TestLoadBlobReportsDamagedPack(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	be := mem.New()
	r := repo.TestRepositoryOn(t, be)
	blobs := saveBlobs(t, r, rng)

	for _, b := range blobs {
		got, err := r.LoadBlob(ctx, b.t, b.id, nil)
		if err != nil || !bytes.Equal(got, b.plain) {
			t.Fatalf("%s blob %s: %v", b.t, b.id.Short(), err)
		}
	}
	for _, b := range blobs {
		loc, ok, err := r.LookupBlob(b.id)
		if err != nil || !ok {
			t.Fatalf("lookup %s: %v %v", b.id.Short(), ok, err)
		}
		name := repo.PackName(loc.Type, loc.Pack)
		if !strings.HasPrefix(name, b.t.String()+"/"+loc.Pack.String()[:2]+"/") {
			t.Fatalf("pack name %q", name)
		}
		orig, err := be.Load(ctx, name, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		poss := []int{0, 1, 24, 25, int(loc.Length) - 16, int(loc.Length) - 1}
		for i := 0; i < 8; i++ {
			poss = append(poss, rng.IntN(int(loc.Length)))
		}
		for _, p := range poss {
			bad := bytes.Clone(orig)
			bad[int(loc.Offset)+p] ^= byte(1 + rng.IntN(255))
			if err := be.Save(ctx, name, bad); err != nil {
				t.Fatal(err)
			}
			_, err := r.LoadBlob(ctx, b.t, b.id, nil)
			checkDamaged(t, err, name)
			for _, o := range blobs {
				if o.id == b.id {
					continue
				}
				if got, err := r.LoadBlob(ctx, o.t, o.id, nil); err != nil || !bytes.Equal(got, o.plain) {
					t.Fatalf("intact blob %s unreadable while %s is damaged: %v", o.id.Short(), b.id.Short(), err)
				}
			}
		}
		if b.t == id.TreeBlob {
			bad := bytes.Clone(orig)
			bad[loc.Offset+loc.Length/2] ^= 0x10
			be.Save(ctx, name, bad)
			_, err := r.LoadTree(ctx, b.id)
			checkDamaged(t, err, name)
		}
		// Truncated and missing packs are damage too, still naming the pack.
		be.Save(ctx, name, orig[:loc.Offset+loc.Length-1])
		_, err = r.LoadBlob(ctx, b.t, b.id, nil)
		checkDamaged(t, err, name)
		be.Remove(ctx, name)
		_, err = r.LoadBlob(ctx, b.t, b.id, nil)
		checkDamaged(t, err, name)

		if err := be.Save(ctx, name, orig); err != nil {
			t.Fatal(err)
		}
		if got, err := r.LoadBlob(ctx, b.t, b.id, nil); err != nil || !bytes.Equal(got, b.plain) {
			t.Fatalf("restored pack: %v", err)
		}
	}
	// Asking for a blob under the wrong type is refused, not misread.
	if _, err := r.LoadBlob(ctx, id.TreeBlob, blobs[0].id, nil); !errors.Is(err, repo.ErrDamaged) {
		t.Fatalf("data blob loaded as tree: %v", err)
	}
	if _, err := r.LoadBlob(ctx, id.DataBlob, id.ID{1}, nil); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("unknown blob: %v", err)
	}
}

func checkDamaged(t *testing.T, err error, name string) {
	t.Helper()
	if err == nil {
		t.Fatalf("damaged %s: blob loads", name)
	}
	if !errors.Is(err, repo.ErrDamaged) {
		t.Fatalf("damaged %s: error %v does not wrap ErrDamaged", name, err)
	}
	if !strings.Contains(err.Error(), name) || packName.FindString(err.Error()) != name {
		t.Fatalf("damaged %s: error %q does not name the pack", name, err)
	}
}

// Damaged snapshots and index segments are reported as ErrDamaged too.
func TestDamagedObjects(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := repo.TestRepositoryOn(t, be)
	saveBlobs(t, r, rand.New(rand.NewPCG(13, 14)))
	sn := &repo.Snapshot{Host: "h", Source: "s", Paths: []string{"/x"}, Tags: []string{"t"}}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	got, err := r.LoadSnapshot(ctx, sn.ID)
	if err != nil || got.Host != "h" || got.ID != sn.ID || !got.HasTag("t") {
		t.Fatalf("load snapshot: %v %+v", err, got)
	}
	name := "snapshots/" + sn.ID.String()
	orig, _ := be.Load(ctx, name, 0, -1)
	for p := range orig {
		bad := bytes.Clone(orig)
		bad[p] ^= 0x04
		be.Save(ctx, name, bad)
		if _, err := r.LoadSnapshot(ctx, sn.ID); !errors.Is(err, repo.ErrDamaged) {
			t.Fatalf("snapshot with byte %d damaged: %v", p, err)
		}
		// Stored under the name of its new content, it still must not open.
		bid := id.ID(blake3.Sum256(bad))
		be.Save(ctx, "snapshots/"+bid.String(), bad)
		if _, err := r.LoadSnapshot(ctx, bid); !errors.Is(err, repo.ErrDamaged) {
			t.Fatalf("renamed snapshot with byte %d damaged: %v", p, err)
		}
		be.Remove(ctx, "snapshots/"+bid.String())
	}
	// Listed from a fresh cache, a damaged snapshot is left out with a
	// warning; the rest stay listed.
	sn2 := &repo.Snapshot{Host: "h2", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn2); err != nil {
		t.Fatal(err)
	}
	opt := repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir()}
	fresh, err := repo.Open(ctx, be, opt)
	if err != nil {
		t.Fatal(err)
	}
	var warned []error
	list, err := fresh.Snapshots(ctx, func(err error) { warned = append(warned, err) })
	fresh.Close()
	if err != nil || len(list) != 1 || list[0].ID != sn2.ID || len(warned) != 1 || !errors.Is(warned[0], repo.ErrDamaged) {
		t.Fatalf("list with a damaged snapshot: %v %d %v", err, len(list), warned)
	}
	be.Save(ctx, name, orig)

	var segs []string
	be.List(ctx, "index/", func(fi backends.Info) error { segs = append(segs, fi.Name); return nil })
	if len(segs) == 0 {
		t.Fatal("no index segment")
	}
	seg, _ := be.Load(ctx, segs[0], 0, -1)
	bad := bytes.Clone(seg)
	bad[len(bad)/2] ^= 1
	be.Save(ctx, segs[0], bad)
	// Opened from a fresh cache, a damaged segment is left out with a
	// notice naming it, so that check and repair index can still run.
	opt.CacheDir = t.TempDir()
	var notes []string
	opt.Log = func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	r2, err := repo.Open(ctx, be, opt)
	if err != nil {
		t.Fatalf("open with a damaged segment: %v", err)
	}
	r2.Close()
	if len(notes) != 1 || !strings.Contains(notes[0], segs[0]) || !strings.Contains(notes[0], "damaged") {
		t.Fatalf("open with a damaged segment: notices %q", notes)
	}
}
