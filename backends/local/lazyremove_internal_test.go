package local

import (
	"context"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/backends"
)

// A Remove syncs the folder it removed from, so the removal survives a
// crash, unless the context asks for a lazy removal (a process's own lock).
func TestRemoveSyncsFolderUnlessLazy(t *testing.T) {
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	syncDir = func(dir string) error { synced = append(synced, dir); return syncDirNow(dir) }
	t.Cleanup(func() { syncDir = syncDirNow })
	ctx := context.Background()
	for _, name := range []string{"locks/a", "locks/b"} {
		if err := l.Save(ctx, name, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	synced = nil
	if err := l.Remove(ctx, "locks/a"); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 {
		t.Fatalf("Remove synced %q, want the lock's folder once", synced)
	}
	synced = nil
	if err := l.Remove(backends.LazyRemoval(ctx), "locks/b"); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 0 {
		t.Fatalf("a lazy Remove synced %q", synced)
	}
	if _, err := l.Stat(ctx, "locks/b"); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("after a lazy Remove, Stat: %v, want ErrNotFound", err)
	}
}
