package prune_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/prune"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// What prune does with each damaged repository of repotest: refuse,
// deleting nothing, when it cannot know what is used; otherwise leave
// damage it does not need to read alone and free what is free.

// age moves every object of the fixture three days into the past, beyond
// the grace period.
func age(t *testing.T, f *repotest.Fixture) {
	t.Helper()
	old := time.Now().Add(-72 * time.Hour)
	err := filepath.WalkDir(f.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// files lists every file of the fixture's repository with its size.
func files(t *testing.T, f *repotest.Fixture) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	filepath.WalkDir(f.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(p, "/locks/") {
			info, _ := d.Info()
			out[p] = info.Size()
		}
		return nil
	})
	return out
}

func pruneFixture(t *testing.T, f *repotest.Fixture, maxUnused float64) (prune.Stats, error) {
	t.Helper()
	ctx := context.Background()
	r := f.Open() // a host of its own: nothing cached
	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	opt := prune.DefaultOptions()
	opt.Lock, opt.MaxUnused = l, maxUnused
	return prune.Run(ctx, r, opt)
}

func TestDamagedRepositories(t *testing.T) {
	const file = "media/big.bin"
	for _, tc := range []struct {
		name   string
		damage func(f *repotest.Fixture) *repotest.Damage
		refuse string // a refusal mentioning this; "" for a prune that runs
	}{
		{"missing pack", func(f *repotest.Fixture) *repotest.Damage { return f.RemovePack(f.PackOf(file)) },
			"missing from storage"},
		{"truncated pack", func(f *repotest.Fixture) *repotest.Damage { return f.TruncatePack(f.PackOf(file)) },
			"shorter than the index says"},
		{"missing index segment", func(f *repotest.Fixture) *repotest.Damage { return f.RemoveSegmentOf(f.PackOf(file)) },
			"cairn repair index"},
		{"damaged snapshot", func(f *repotest.Fixture) *repotest.Damage { return f.DamageSnapshot(f.Latest().ID) },
			"cairn repair snapshots"},
		{"dangling blob", func(f *repotest.Fixture) *repotest.Damage { return f.DanglingBlob(file) },
			"used by snapshots but in no index segment"},
		// Stored nowhere: repair index cannot bring it back, repair
		// snapshots (what check advises) removes what is lost.
		{"dangling blob advice", func(f *repotest.Fixture) *repotest.Damage { return f.DanglingBlob(file) },
			"run `cairn check`, then `cairn repair snapshots`"},
		{"damaged tree", func(f *repotest.Fixture) *repotest.Damage { return f.FlipBit(f.BlobOf("media")) },
			"cannot be read"},
		// Damage in data prune has no reason to read: it runs and frees
		// nothing, since everything is used.
		{"flipped bit in data", func(f *repotest.Fixture) *repotest.Damage { return f.FlipBit(f.BlobOf(file)) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := repotest.New(t)
			tc.damage(f)
			age(t, f)
			before := files(t, f)
			st, err := pruneFixture(t, f, 0)
			if tc.refuse != "" {
				if !errors.Is(err, prune.ErrRefused) || !strings.Contains(err.Error(), tc.refuse) {
					t.Fatalf("got %v, want a refusal mentioning %q", err, tc.refuse)
				}
				after := files(t, f)
				for p, n := range before {
					if after[p] != n {
						t.Fatalf("%s changed or deleted", p)
					}
				}
				if len(after) != len(before) {
					t.Fatalf("%d files before, %d after", len(before), len(after))
				}
				return
			}
			if err != nil || st.PacksDeleted != 0 {
				t.Fatalf("got %v, %+v", err, st)
			}
		})
	}
}

// An unreferenced pack stays while young, is marked for deletion when old,
// and goes when marked long enough; duplicated blobs keep one copy. Every
// snapshot still restores in full.
func TestDamagedRepositoriesFreed(t *testing.T) {
	t.Run("unreferenced pack", func(t *testing.T) {
		f := repotest.New(t)
		d := f.AddUnreferencedPack()
		st, err := pruneFixture(t, f, 0)
		if err != nil || st.PacksDeleted != 0 || st.GracePacks != 1 {
			t.Fatalf("young: %v, %+v", err, st)
		}
		age(t, f)
		st, err = pruneFixture(t, f, 0)
		if err != nil || st.MarkedPacks != 1 || st.PacksDeleted != 0 {
			t.Fatalf("old: %v, %+v", err, st)
		}
		age(t, f) // the mark too
		st, err = pruneFixture(t, f, 0)
		if err != nil || st.UnreferencedPacks != 1 || st.PacksDeleted != 1 {
			t.Fatalf("marked long ago: %v, %+v", err, st)
		}
		if _, err := os.Stat(filepath.Join(f.Dir, d.Object)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %v", d.Object, err)
		}
		restoreAll(t, f)
	})
	t.Run("duplicate pack", func(t *testing.T) {
		f := repotest.New(t)
		f.DuplicatePack(f.PackOf("media/big.bin"))
		age(t, f)
		st, err := pruneFixture(t, f, 0)
		if err != nil || st.MarkedPacks != 1 || st.PacksDeleted != 0 || st.RepackPacks != 0 {
			t.Fatalf("%v, %+v", err, st)
		}
		restoreAll(t, f)
		age(t, f)
		st, err = pruneFixture(t, f, 0)
		if err != nil || st.UnusedPacks != 1 || st.RepackPacks != 0 {
			t.Fatalf("%v, %+v", err, st)
		}
		restoreAll(t, f)
	})
}

func restoreAll(t *testing.T, f *repotest.Fixture) {
	t.Helper()
	f.Sync()
	for _, sn := range f.Snapshots {
		warned, err := f.Restore(sn, t.TempDir())
		if err != nil || len(warned) > 0 {
			t.Fatalf("restore %s: %v %v", sn.ID.Short(), err, warned)
		}
	}
}
