package repair_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo/id"
	"github.com/cairn-backup/cairn/repo/repair"
	"github.com/cairn-backup/cairn/repo/repotest"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A reader open while a pack is lost and a repair index elsewhere drops
// its blobs finds them gone from the index, as after a prune, yet its
// snapshot is still there and the data is lost: the read must not tell
// the user that the snapshot was forgotten and nothing is damaged.
func TestReaderOfBlobDroppedByRepairIndex(t *testing.T) {
	ctx := context.Background()
	f := repotest.New(t)
	sn := f.Ingest()
	reader := f.Open() // a mount, opened before the repair
	var b id.ID
	err := reader.Walk(ctx, sn, func(p string, n *tree.Node) (bool, error) {
		if n.Kind == tree.KindFile && n.Name == "big.bin" {
			b = n.Content[0].ID
		}
		return true, nil
	}, nil)
	if err != nil || b.IsZero() {
		t.Fatalf("walk: %v (big.bin found: %v)", err, !b.IsZero())
	}
	f.RemovePack(f.PackOf("media/big.bin"))
	if _, err := repair.Index(ctx, f.Open(), repair.IndexOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = reader.LoadBlob(ctx, id.DataBlob, b, nil)
	if err == nil {
		t.Fatal("a blob whose pack is lost was read")
	}
	if msg := err.Error(); strings.Contains(msg, "its snapshots were forgotten meanwhile)") || !strings.Contains(msg, "lost") {
		t.Fatalf("read of a blob lost with its pack: %v; want the loss named as a possible cause", err)
	}
}
