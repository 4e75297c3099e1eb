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

// lyingSizes lists the objects in small as 500 bytes long, whatever they
// hold, as a storage that lies (or an object replaced after the listing)
// would, and fails a Load of one of them to its end: that would read and
// allocate whatever the storage then sends.
type lyingSizes struct {
	backends.Backend
	small map[string]bool
}

func (b *lyingSizes) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	return b.Backend.List(ctx, prefix, func(fi backends.Info) error {
		if b.small[fi.Name] {
			fi.Size = 500
		}
		return fn(fi)
	})
}

func (b *lyingSizes) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if b.small[name] && n < 0 {
		return nil, errors.New("loaded " + name + " to its end, past its listed size")
	}
	return b.Backend.Load(ctx, name, off, n)
}

// Key files were judged by their listed size but then loaded to their
// end: a storage listing a key file as small and sending gigabytes for it
// had them read into memory. They are now read only up to the listed size.
func TestKeyFileReadNoFurtherThanListed(t *testing.T) {
	ctx := context.Background()
	be := &lyingSizes{Backend: mem.New(), small: map[string]bool{}}
	r := TestRepositoryOn(t, be)
	name := "keys/" + strings.Repeat("00", 32)
	if err := be.Save(ctx, name, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	be.small[name] = true
	_, _, err := unlock(ctx, be, []byte("not the password"), r.cfg.verify)
	if err == nil || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "past its listed size") {
		t.Fatalf("unlock: %v, want the key file %s skipped as damaged", err, name)
	}
	keys, err := r.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if "keys/"+k.ID == name && (k.Err == "" || strings.Contains(k.Err, "past its listed size")) {
			t.Fatalf("key file listed with error %q", k.Err)
		}
	}
}
