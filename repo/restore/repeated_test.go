package restore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/restore"
	"github.com/cairn-backup/cairn/repo/tree"
)

// A metadata failure every entry meets (a target that does not support
// an attribute: extended attributes on vfat or ramfs) is named for the
// first few entries, then summed up once, and still counted for each
// entry; the files themselves are restored. Linux refuses an attribute of
// an unknown namespace on any filesystem, as vfat refuses them all.
func TestRepeatedMetadataFailureSummed(t *testing.T) {
	ctx := context.Background()
	r := repo.TestRepository(t)
	s := r.NewSaver(ctx, 1)
	now := time.Now().UnixNano()
	const files = 20
	var nodes []*tree.Node
	for i := range files {
		nodes = append(nodes, &tree.Node{Name: fmt.Sprintf("f%02d", i), Kind: tree.KindFile, Mode: 0o644, MTime: now, ATime: now, Links: 1,
			UID: uint32(os.Geteuid()), GID: uint32(os.Getegid()), Xattrs: []tree.Xattr{{Name: "cairnnonamespace.x", Value: []byte("v")}}})
	}
	tree.Sort(nodes)
	tid, err := s.SaveTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	sn := &repo.Snapshot{Time: time.Now(), Tree: tid, Paths: []string{"/data"}, Host: "h", Source: "s"}
	if err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}

	dst := t.TempDir()
	var warned []string
	st, err := restore.Run(ctx, r, sn, "", restore.Options{Target: dst, SkipOwner: true, Warn: func(p string, err error) {
		warned = append(warned, p+": "+err.Error())
	}})
	if err == nil || st.Errors != files {
		t.Fatalf("restore: %v, %d errors; want one for each of the %d files", err, st.Errors, files)
	}
	if len(warned) != 4 {
		t.Fatalf("%d warnings, want 3 naming files and one summing up the rest:\n%s", len(warned), strings.Join(warned, "\n"))
	}
	if !strings.Contains(warned[2], "counted, not listed") {
		t.Errorf("the third warning does not say the next are not listed: %s", warned[2])
	}
	if sum := warned[3]; !strings.HasPrefix(sum, dst+": lsetxattr failed with \"operation not supported\" for 17 more entries") {
		t.Errorf("summary: %s", sum)
	}
	for i := range files {
		if _, err := os.Stat(filepath.Join(dst, fmt.Sprintf("f%02d", i))); err != nil {
			t.Errorf("not restored: %v", err)
		}
	}
}
