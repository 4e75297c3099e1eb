package repo

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/index"
	"github.com/cairn-backup/cairn/repo/id"
)

func TestActiveSegments(t *testing.T) {
	a, b, c, d := id.ID{1}, id.ID{2}, id.ID{3}, id.ID{4}
	set := func(ids ...id.ID) map[id.ID]bool {
		m := map[id.ID]bool{}
		for _, x := range ids {
			m[x] = true
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		stored     map[id.ID]bool
		supersedes map[id.ID][]id.ID
		want       map[id.ID]bool
	}{
		{"nothing superseded", set(a, b), nil, set(a, b)},
		{"c replaces a and b", set(a, b, c), map[id.ID][]id.ID{c: {a, b}}, set(c)},
		{"c replaces a, b is new", set(a, b, c), map[id.ID][]id.ID{c: {a}}, set(b, c)},
		{"a superseder that is gone replaces nothing", set(a, b), map[id.ID][]id.ID{c: {a}}, set(a, b)},
		{"a chain", set(a, c, d), map[id.ID][]id.ID{c: {a}, d: {a, c}}, set(d)},
		{"a segment does not supersede itself", set(a), map[id.ID][]id.ID{a: {a}}, set(a)},
		{"superseding what is already gone", set(c), map[id.ID][]id.ID{c: {a, b}}, set(c)},
	} {
		got := ActiveSegments(tc.stored, tc.supersedes)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			continue
		}
		for x := range tc.want {
			if !got[x] {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

func onePack(pid, bid id.ID, off uint32) index.Pack {
	return index.Pack{ID: pid, Type: id.DataBlob, Blobs: []index.Blob{{ID: bid, Type: id.DataBlob, Pack: pid, Offset: off, Length: 50, RawLength: 9}}}
}

// A blob in a superseded segment and in its replacement resolves to the
// replacement's pack, for a host that knew the old segment and for one
// that starts from nothing, while both segments are stored.
func TestSyncIndexIgnoresSuperseded(t *testing.T) {
	ctx := context.Background()
	_, r, other := openTwo(t)
	blob, oldPack, newPack := id.ID{9}, id.ID{1}, id.ID{2}
	old, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{onePack(oldPack, blob, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if loc, _, _ := other.LookupBlob(blob); loc.Pack != oldPack {
		t.Fatalf("before: blob in %s", loc.Pack.Short())
	}
	if _, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{onePack(newPack, blob, 100)}, Supersedes: []id.ID{old}}); err != nil {
		t.Fatal(err)
	}
	if err := other.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if loc, _, _ := other.LookupBlob(blob); loc.Pack != newPack || loc.Offset != 100 {
		t.Fatalf("a host that knew the old segment: blob in %s at %d", loc.Pack.Short(), loc.Offset)
	}
	// A host starting from nothing on the same storage.
	r2, err := Open(ctx, r.be, Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if loc, _, _ := r2.LookupBlob(blob); loc.Pack != newPack {
		t.Fatalf("a new host: blob in %s", loc.Pack.Short())
	}
	segs, err := r2.idx.Segments()
	if err != nil || len(segs) != 1 {
		t.Fatalf("a new host loaded %d segments (%v)", len(segs), err)
	}
	// Once the old segment is deleted nothing changes, and no rebuild is
	// needed.
	if err := r.be.Remove(ctx, "index/"+old.String()); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Repository{other, r2} {
		if err := h.SyncIndex(ctx); err != nil {
			t.Fatal(err)
		}
		if loc, _, _ := h.LookupBlob(blob); loc.Pack != newPack {
			t.Fatalf("after deletion: blob in %s", loc.Pack.Short())
		}
	}
}

// A damaged index segment does not stop a host that has not loaded it
// from opening the repository (so that check and repair index can run):
// it is left out of the local index, said once, and the intact segments
// are loaded.
func TestSyncIndexSkipsDamagedSegment(t *testing.T) {
	ctx := context.Background()
	_, r, _ := openTwo(t)
	good, bad := id.ID{9}, id.ID{8}
	if _, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{onePack(id.ID{1}, good, 0)}}); err != nil {
		t.Fatal(err)
	}
	sid, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{onePack(id.ID{2}, bad, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	name := "index/" + sid.String()
	b, err := r.be.Load(ctx, name, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := r.be.Remove(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := r.be.Save(ctx, name, b); err != nil {
		t.Fatal(err)
	}
	var notes []string
	r2, err := Open(ctx, r.be, Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF,
		Log: func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }})
	if err != nil {
		t.Fatalf("open with a damaged index segment: %v", err)
	}
	defer r2.Close()
	if err := r2.SyncIndex(ctx); err != nil {
		t.Fatalf("sync with a damaged index segment: %v", err)
	}
	if _, ok, _ := r2.LookupBlob(good); !ok {
		t.Fatal("the intact segment was not loaded")
	}
	if _, ok, _ := r2.LookupBlob(bad); ok {
		t.Fatal("a blob of the damaged segment was loaded")
	}
	if len(notes) != 1 || !strings.Contains(notes[0], name) || !strings.Contains(notes[0], "repair index") {
		t.Fatalf("notices: %q", notes)
	}
}

// A host with a cold local index (a new machine, an emptied cache) loads
// every segment of a repository holding thousands of snapshots: they are
// recorded in a few local index transactions, not one commit (and one
// fdatasync) each, which made opening such a repository take minutes.
func TestSyncIndexBatchesSegments(t *testing.T) {
	ctx := context.Background()
	_, r, other := openTwo(t)
	const n = 600
	for i := range n {
		pid, bid := id.ID{1, byte(i), byte(i >> 8)}, id.ID{2, byte(i), byte(i >> 8)}
		if _, err := r.SaveSegment(ctx, &Segment{Packs: []index.Pack{onePack(pid, bid, 0)}}); err != nil {
			t.Fatal(err)
		}
	}
	before := other.Index().Generation()
	if err := other.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if commits := other.Index().Generation() - before; commits > n/100 {
		t.Errorf("loading %d segments took %d local index commits", n, commits)
	}
	for i := range n {
		bid := id.ID{2, byte(i), byte(i >> 8)}
		if _, ok, err := other.LookupBlob(bid); err != nil || !ok {
			t.Fatalf("blob %d of %d not found after sync (%v)", i, n, err)
		}
	}
}
