package prune_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/prune"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A reader that holds no lock (a mount, the TUI), open while a snapshot it
// shows is forgotten and pruned elsewhere, finds that snapshot's data
// gone. It says so, rather than calling the repository damaged: the mount's
// log and check-minded users read "damaged data" as a broken repository.
func TestReaderNamesDataPrunedSinceItOpened(t *testing.T) {
	w := newWorld(t, 1)
	cache := w.cacheDir()
	first := w.ingestFiles(cache, "src", map[string][]byte{"b": random(2, 60000)})
	w.advance(time.Hour)
	w.ingestFiles(cache, "src", map[string][]byte{"c": random(3, 2000)})
	r := w.open(w.cacheDir(), w.be) // the mount, opened before the forget
	defer r.Close()
	var b id.ID
	err := r.Walk(w.ctx, first, func(p string, n *tree.Node) (bool, error) {
		if n.Kind == tree.KindFile && n.Name == "b" {
			b = n.Content[0].ID
		}
		return true, nil
	}, nil)
	if err != nil || b.IsZero() {
		t.Fatalf("walk: %v (file b found: %v)", err, !b.IsZero())
	}
	w.forget(first)
	w.advance(prune.DefaultGracePeriod + time.Hour)
	w.mustPrune(prune.DefaultOptions())
	w.advance(prune.DefaultGracePeriod + time.Minute)
	if st := w.mustPrune(prune.DefaultOptions()); st.PacksDeleted == 0 {
		t.Fatalf("prune deleted nothing: %+v", st)
	}
	_, err = r.LoadBlob(w.ctx, id.DataBlob, b, nil)
	if !errors.Is(err, repo.ErrNotFound) || errors.Is(err, repo.ErrDamaged) || !strings.Contains(err.Error(), "removed by a prune") {
		t.Fatalf("read of pruned data: %v; want not found, removed by a prune, not damaged", err)
	}
}
