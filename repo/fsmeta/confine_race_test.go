package fsmeta_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// A folder this package renames away and makes again while another call
// is finding the old one (opened before the rename, kept after it) is not
// kept: once the rename and the new folder are done, a call reaches the
// new folder, never the one renamed away.
func TestConfinedFolderRenamedWhileFound(t *testing.T) {
	target := t.TempDir()
	release, err := fsmeta.Confine(target)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	a := filepath.Join(target, "a")
	f := filepath.Join(a, "f")
	if err := fsmeta.Mkdir(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := create(t, f); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				fsmeta.Lstat(f)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for i := 0; i < 600; i++ {
		if err := fsmeta.Rename(a, filepath.Join(target, fmt.Sprintf("old%d", i))); err != nil {
			t.Fatal(err)
		}
		if err := fsmeta.Mkdir(a, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := create(t, f); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		want, err := os.Lstat(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fsmeta.Lstat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got.Sys().(*syscall.Stat_t).Ino != want.Sys().(*syscall.Stat_t).Ino {
			t.Fatalf("round %d: %s reached in the folder renamed away, not in the one made at its name", i, f)
		}
	}
}
