package diff_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/diff"
	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// An inode flag set between two snapshots (chattr +d) is a metadata
// change: diff --metadata said nothing of it, though a restore of each
// snapshot gives the file different flags. A live diff against an
// unchanged source must still find nothing.
func TestInodeFlagsAreMetadata(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "f"), "f")
	write(t, filepath.Join(src, "g"), "g")
	a := snap(t, r, src)
	if err := fsmeta.SetFlags(filepath.Join(src, "f"), fsmeta.FlagNoDump); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the test folder takes no inode flags: %v", err)
		}
		t.Skipf("the test folder takes no inode flags: %v", err)
	}
	b := snap(t, r, src)

	var c collector
	if _, err := diff.Snapshots(ctx, r, a, b, src, src, diff.Options{Metadata: true}, c.emit); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.lines, []string{"U /f"}) || !reflect.DeepEqual(c.byKey["/f"].MetaChanged, []string{"flags"}) {
		t.Errorf("snapshots before and after chattr +d: %v %+v, want U /f with flags changed", c.lines, c.byKey["/f"])
	}

	var l collector
	if _, err := diff.Live(ctx, r, b, src, src, diff.Options{Metadata: true}, l.emit); err != nil {
		t.Fatal(err)
	}
	if len(l.lines) != 0 {
		t.Errorf("live diff of an unchanged source: %v", l.lines)
	}
	var lb collector
	if _, err := diff.Live(ctx, r, a, src, src, diff.Options{Metadata: true}, lb.emit); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lb.lines, []string{"U /f"}) {
		t.Errorf("live diff after chattr +d: %v, want U /f", lb.lines)
	}
}
