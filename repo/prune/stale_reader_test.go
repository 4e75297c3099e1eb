package prune_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/prune"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A reader that holds no lock (a mount, the TUI) and opened the repository
// before another host's prune repacked a blob and deleted its old pack
// still reads the blob: from where the index now says it is, not EIO from
// the pack that is gone.
func TestReaderWithStaleIndexFollowsRepack(t *testing.T) {
	w, second := twoIngests(t)
	r := w.open(w.cacheDir(), w.be) // the mount, opened before the prune
	defer r.Close()
	var a id.ID
	var want []byte
	err := r.Walk(w.ctx, second, func(p string, n *tree.Node) (bool, error) {
		if n.Kind == tree.KindFile && n.Name == "a" {
			a, want = n.Content[0].ID, w.committed[second.ID][p]
		}
		return true, nil
	}, nil)
	if err != nil || want == nil {
		t.Fatalf("walk: %v (file a found: %v)", err, want != nil)
	}
	before, _, _ := r.LookupBlob(a)
	w.mustPrune(prune.DefaultOptions()) // repacks a, marks its pack
	w.advance(prune.DefaultGracePeriod + time.Minute)
	st := w.mustPrune(prune.DefaultOptions()) // deletes the old pack
	if st.PacksDeleted == 0 {
		t.Fatalf("prune deleted nothing: %+v", st)
	}
	if _, err := w.be.Stat(w.ctx, "data/"+before.Pack.String()[:2]+"/"+before.Pack.String()); err == nil {
		t.Fatal("the blob's old pack is still there")
	}
	got, err := r.LoadBlob(w.ctx, id.DataBlob, a, nil)
	if err != nil {
		t.Fatalf("read after another host's prune: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("read after another host's prune: wrong content")
	}
}
