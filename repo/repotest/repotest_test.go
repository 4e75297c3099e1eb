package repotest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// restoreLatest restores the latest snapshot and asserts that restore
// warns about exactly the paths the damage names for it, each warning
// naming the pack when want says so, and that every other file is whole.
func restoreLatest(t *testing.T, f *repotest.Fixture, d *repotest.Damage, namePack bool) {
	t.Helper()
	sn := f.Latest()
	dst := t.TempDir()
	warned, err := f.Restore(sn, dst)
	lost := d.Affected[sn.ID]
	if len(lost) == 0 {
		if err != nil {
			t.Fatalf("restore: %v\n%s", err, strings.Join(warned, "\n"))
		}
	} else if !errors.Is(err, restore.ErrIncomplete) {
		t.Fatalf("restore over %s: %v, want ErrIncomplete", d.What, err)
	}
	var got []string
	for _, w := range warned {
		p, msg, _ := strings.Cut(w, ": ")
		p = strings.TrimPrefix(p, dst)
		if p == "" {
			p = "/" // the root's tree is lost
		}
		got = append(got, p)
		if namePack && !strings.Contains(msg, d.Object) {
			t.Errorf("warning does not name %s: %s", d.Object, w)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(lost, "\n") {
		t.Fatalf("restore warned about\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(lost, "\n"))
	}
	gone := map[string]bool{}
	for _, p := range lost {
		gone[p] = true
	}
outer:
	for _, rel := range f.Files() {
		for p := range gone {
			if p == "/" || f.Path(rel) == p || strings.HasPrefix(f.Path(rel), p+"/") {
				continue outer
			}
		}
		src := filepath.Join(f.Source, rel)
		if fi, err := os.Lstat(src); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		a, _ := os.ReadFile(src)
		b, err := os.ReadFile(filepath.Join(dst, f.Path(rel)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not restored whole: %v", rel, err)
		}
	}
}

func TestFixture(t *testing.T) {
	f := repotest.New(t)
	if len(f.Snapshots) != 2 || f.Snapshots[0].Host != repotest.Host {
		t.Fatalf("snapshots: %v", f.Snapshots)
	}
	if f.Repo.Config().PackSize != repotest.PackSize {
		t.Fatalf("pack size %d", f.Repo.Config().PackSize)
	}
	d := &repotest.Damage{}
	restoreLatest(t, f, d, false)
}

func TestRemovePack(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("media/big.bin"))
	if len(d.Lost) == 0 || !strings.HasPrefix(d.Object, "data/") || len(d.Affected) != 2 {
		t.Fatalf("damage: %+v", d)
	}
	for _, ps := range d.Affected {
		found := false
		for _, p := range ps {
			found = found || p == f.Path("media/big.bin")
		}
		if !found {
			t.Fatalf("media/big.bin is not affected: %v", ps)
		}
	}
	restoreLatest(t, f, d, true)
}

func TestRemoveTreePack(t *testing.T) {
	f := repotest.New(t)
	d := f.RemovePack(f.PackOf("docs"))
	if !strings.HasPrefix(d.Object, "tree/") || len(d.Paths()) == 0 {
		t.Fatalf("damage: %+v", d)
	}
	restoreLatest(t, f, d, true)
}

func TestTruncatePack(t *testing.T) {
	f := repotest.New(t)
	d := f.TruncatePack(f.PackOf("media/clip.bin"))
	if len(d.Lost) == 0 {
		t.Fatalf("damage: %+v", d)
	}
	restoreLatest(t, f, d, true)
}

func TestFlipBit(t *testing.T) {
	f := repotest.New(t)
	d := f.FlipBit(f.BlobOf("media/big.bin"))
	if len(d.Lost) != 1 {
		t.Fatalf("damage: %+v", d)
	}
	restoreLatest(t, f, d, true)
}

func TestAddUnreferencedPack(t *testing.T) {
	f := repotest.New(t)
	d := f.AddUnreferencedPack()
	if _, err := f.Backend.Stat(context.Background(), d.Object); err != nil || len(d.Lost) != 0 {
		t.Fatalf("damage %+v: %v", d, err)
	}
	restoreLatest(t, f, d, false)
}

func TestDuplicatePack(t *testing.T) {
	f := repotest.New(t)
	d := f.DuplicatePack(f.PackOf("docs/a.txt"))
	if len(d.Packs) != 2 || d.Packs[0] == d.Packs[1] {
		t.Fatalf("damage: %+v", d)
	}
	restoreLatest(t, f, d, false)
}

// Without its segment a pack cannot be found: restore says the blobs are
// in no index segment.
func TestRemoveSegmentOf(t *testing.T) {
	f := repotest.New(t)
	d := f.RemoveSegmentOf(f.PackOf("media/clip.bin"))
	if !strings.HasPrefix(d.Object, "index/") || len(d.Lost) == 0 {
		t.Fatalf("damage: %+v", d)
	}
	restoreLatest(t, f, d, false)
}

// A damaged snapshot object is refused: a host that has not cached it
// lists the others and says which one it skipped.
func TestDamageSnapshot(t *testing.T) {
	f := repotest.New(t)
	d := f.DamageSnapshot(f.Latest().ID)
	var warned []error
	all, err := f.Open().Snapshots(context.Background(), func(err error) { warned = append(warned, err) })
	if err != nil || len(all) != 1 || all[0].ID != f.Snapshots[0].ID {
		t.Fatalf("snapshots: %v %v", all, err)
	}
	if len(warned) != 1 || !errors.Is(warned[0], repo.ErrDamaged) || !strings.Contains(warned[0].Error(), d.Object) {
		t.Fatalf("warnings: %v", warned)
	}
}

func TestDanglingBlob(t *testing.T) {
	f := repotest.New(t)
	d := f.DanglingBlob("media/clip.bin")
	if d.Snapshot != f.Latest().ID || len(d.Affected) != 1 || d.Affected[d.Snapshot][0] != f.Path("media/clip.bin") {
		t.Fatalf("damage: %+v", d)
	}
	restoreLatest(t, f, d, false)
}
