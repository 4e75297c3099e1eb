package repo_test

import (
	"context"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/repotest"
)

// rewriteAfterList runs rewrite once, right after the first listing of the
// index segments ends: as a prune or repair index elsewhere would, between
// a reader's listing and its reads.
type rewriteAfterList struct {
	backends.Backend
	rewrite func()
}

func (b *rewriteAfterList) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	err := b.Backend.List(ctx, prefix, fn)
	if prefix == "index/" && b.rewrite != nil {
		rw := b.rewrite
		b.rewrite = nil
		rw()
	}
	return err
}

func (b *rewriteAfterList) Unwrap() backends.Backend { return b.Backend }

// A reader without a lock (a mount, --no-lock) that lists the index
// segments just before a repair index replaces them finds the ones it
// listed gone. Their replacement is stored: it lists again and opens,
// instead of failing with "not found".
func TestSyncIndexListsAgainWhenSegmentsGo(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	for range 3 {
		f.Ingest()
	}
	var removed int
	be := &rewriteAfterList{Backend: f.Backend, rewrite: func() {
		res, err := repair.Index(ctx, f.Open(), repair.IndexOptions{})
		if err != nil {
			t.Fatalf("repair index: %v", err)
		}
		removed = len(res.Removed)
	}}
	r, err := repo.Open(ctx, be, repo.Options{Password: []byte(repo.TestPassword), CacheDir: t.TempDir(), KDF: &repo.TestKDF})
	if err != nil {
		t.Fatalf("open while the index segments were replaced: %v", err)
	}
	defer r.Close()
	if removed == 0 {
		t.Fatal("the repair removed no segment: the test did not race")
	}
	for _, sn := range f.Snapshots {
		if _, err := r.LoadTree(ctx, sn.Tree); err != nil {
			t.Fatalf("snapshot %s after the race: %v", sn.ID.Short(), err)
		}
	}
}
