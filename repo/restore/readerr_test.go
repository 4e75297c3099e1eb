package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/restore"
)

// A read that fails for another reason than damage (a network error
// after the retries) while the restore goes on is no missing chunk: the
// file is not put in place with zeros over the existing one, nor left as
// a new file with zeros, and the failure is reported.
func TestReadErrorIsNotDamage(t *testing.T) {
	f := newPartialFixture(t)
	for _, readPacks := range []bool{false, true} {
		t.Run(fmt.Sprint("readPacks=", readPacks), func(t *testing.T) {
			dst := t.TempDir()
			old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			p := filepath.Join(dst, "big.dat")
			os.WriteFile(p, []byte("precious"), 0o600)
			os.Chtimes(p, old, old)
			f.be.n.Store(0)
			f.be.after = 2
			noop := context.CancelFunc(func() {})
			f.be.cancel.Store(&noop)
			var mu sync.Mutex
			var warned []string
			st, err := restore.Run(context.Background(), f.r, f.sn, f.src, restore.Options{Target: dst, Workers: 2, ReadPacks: readPacks,
				Overwrite: restore.Always, SkipOwner: true,
				Warn: func(p string, err error) { mu.Lock(); warned = append(warned, p+": "+err.Error()); mu.Unlock() }})
			if !errors.Is(err, restore.ErrIncomplete) {
				t.Fatalf("restore: %v, want ErrIncomplete; stats %+v, warned %v, loads %d", err, st, warned, f.be.n.Load())
			}
			if got, err := os.ReadFile(p); err != nil || string(got) != "precious" {
				t.Errorf("big.dat was replaced after a read error: %d bytes, %v", len(got), err)
			}
			for name, b := range f.want {
				got, err := os.ReadFile(filepath.Join(dst, name))
				if err == nil && name != "big.dat" && !bytes.Equal(got, b) {
					t.Errorf("%s is at its final name without all its data after a read error", name)
				}
			}
			if !strings.Contains(strings.Join(warned, "\n"), "unexpected EOF") {
				t.Errorf("the read error was not reported: %v", warned)
			}
			if p := partials(t, dst); len(p) > 0 {
				t.Errorf("temporaries left behind: %v", p)
			}
		})
	}
}
