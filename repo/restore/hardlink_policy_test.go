package restore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A name of a hardlink group that the overwrite policy keeps (never, or
// newer than the snapshot's copy under if-changed) is not the snapshot's
// file: the group's other names get the snapshot's content, not links to
// it, and an existing newer name of the group is kept as any newer file is.
func TestHardlinkGroupHonoursOverwrite(t *testing.T) {
	f := newPartialFixture(t)
	local := []byte("edited after the snapshot")
	future := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		ow       restore.Overwrite
		existing string // the group's name that is there before the restore
	}{
		{restore.Never, "big.dat"},
		{restore.IfChanged, "big.dat"},
		{restore.Never, "sub/big-link.dat"},
		{restore.IfChanged, "sub/big-link.dat"},
	} {
		t.Run(fmt.Sprintf("%s/%s", map[restore.Overwrite]string{restore.Never: "never", restore.IfChanged: "if-changed"}[tc.ow], filepath.Base(tc.existing)), func(t *testing.T) {
			dst := t.TempDir()
			os.MkdirAll(filepath.Join(dst, "sub"), 0o755)
			kept := filepath.Join(dst, tc.existing)
			if err := os.WriteFile(kept, local, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(kept, future, future)
			var notices []string
			_, err := restore.Run(context.Background(), f.r, f.sn, f.src, restore.Options{Target: dst, Workers: 2, Overwrite: tc.ow, SkipOwner: true,
				Warn:   func(p string, err error) { t.Errorf("warning %s: %v", p, err) },
				Notice: func(p, msg string) { notices = append(notices, p) }})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(kept); !bytes.Equal(got, local) {
				t.Errorf("%s: the existing newer file was replaced", tc.existing)
			}
			other := "sub/big-link.dat"
			if tc.existing == other {
				other = "big.dat"
			}
			if got, _ := os.ReadFile(filepath.Join(dst, other)); !bytes.Equal(got, f.want[other]) {
				t.Errorf("%s: got %d bytes %.30q, want the snapshot's %d bytes", other, len(got), got, len(f.want[other]))
			}
			if tc.ow == restore.IfChanged && len(notices) != 1 {
				t.Errorf("notices %v: want one, for %s", notices, tc.existing)
			}
		})
	}
}
