package repo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
)

// refuseLoad is a backend that fails every Load of the names in big, as if
// loading them would exhaust memory.
type refuseLoad struct {
	backends.Backend
	mu  sync.Mutex
	big map[string]bool
}

func (b *refuseLoad) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	b.mu.Lock()
	refuse := b.big[name]
	b.mu.Unlock()
	if refuse {
		return nil, errors.New("loaded an oversized object " + name)
	}
	return b.Backend.Load(ctx, name, off, n)
}

// Someone with write access to the storage can put a huge object under
// locks/ or keys/: every command lists and used to load them whole, so a
// file of a few GiB made every ingest, ls and prune run out of memory.
// They are now judged by their listed size and never loaded.
func TestOversizedLockAndKeyFilesNotLoaded(t *testing.T) {
	ctx := context.Background()
	be := &refuseLoad{Backend: mem.New(), big: map[string]bool{}}
	r := TestRepositoryOn(t, be)
	huge := make([]byte, 1<<20)
	lockName := "locks/" + strings.Repeat("ef", 32)
	keyName := "keys/" + strings.Repeat("00", 32)
	for _, n := range []string{lockName, keyName} {
		if err := be.Save(ctx, n, huge); err != nil {
			t.Fatal(err)
		}
		be.big[n] = true
	}
	locks, err := r.Locks(ctx)
	if err != nil {
		t.Fatalf("Locks: %v", err)
	}
	if li := locks[lockName]; li == nil || !li.Unreadable || li.Stored.IsZero() {
		t.Fatalf("oversized lock listed as %+v, want an unreadable lock with its object time", li)
	}
	// A shared lock is still taken; an exclusive one is stopped (fail closed).
	l, err := r.Lock(ctx, false, "ingest")
	if err != nil {
		t.Fatalf("shared lock beside an oversized lock object: %v", err)
	}
	l.Unlock()
	if l, err := r.Lock(ctx, true, "prune"); err == nil {
		l.Unlock()
		t.Fatal("exclusive lock taken beside an unreadable lock object")
	}
	// The password still opens the repository, skipping the huge key file.
	if err := r.CheckPassword(ctx, []byte(TestPassword)); err != nil {
		t.Fatalf("CheckPassword: %v", err)
	}
	keys, err := r.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		if "keys/"+k.ID == keyName {
			found = true
			if !strings.Contains(k.Err, "too large") {
				t.Fatalf("oversized key file listed with error %q", k.Err)
			}
		}
	}
	if !found {
		t.Fatal("oversized key file not listed")
	}
}
