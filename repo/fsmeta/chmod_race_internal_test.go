package fsmeta

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// A restored file's mode is set on the file itself: another user of the
// target swapping it for a symlink to /etc/shadow and back
// (RENAME_EXCHANGE), over and over, never gets the mode given to what the
// symlink leads to. fchmodat2 says EOPNOTSUPP for a symlink, and the
// fallback used to check the name and then chmod it, following the
// symlink swapped in between. Folders given back their mode (PutBack) or
// opened up (OpenUp) likewise.
func TestChmodNeverFollowsSwappedSymlink(t *testing.T) {
	for _, c := range []struct {
		name  string
		isDir bool
		chmod func(path string) error
	}{
		{"chmodNoFollow", false, func(p string) error { return chmodNoFollow(p, 0o666) }},
		{"PutBack", true, func(p string) error { return (&DirState{mode: 0o777}).PutBack(p) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := filepath.Join(dir, "shadow")
			target := filepath.Join(dir, "target")
			if err := os.Mkdir(target, 0o777); err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(target, "f")
			var err error
			if c.isDir {
				err = os.Mkdir(victim, 0o700)
				if err == nil {
					err = os.Mkdir(f, 0o755)
				}
			} else {
				err = os.WriteFile(victim, nil, 0o600)
				if err == nil {
					err = os.WriteFile(f, nil, 0o644)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			l := filepath.Join(target, "l")
			if err := os.Symlink(victim, l); err != nil {
				t.Fatal(err)
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					unix.Renameat2(unix.AT_FDCWD, f, unix.AT_FDCWD, l, unix.RENAME_EXCHANGE)
				}
			}()
			defer func() { stop.Store(true); wg.Wait() }()
			want := uint32(0o600)
			if c.isDir {
				want = 0o700
			}
			for i := 0; i < 20000; i++ {
				c.chmod(f)
				var st unix.Stat_t
				if err := unix.Stat(victim, &st); err != nil {
					t.Fatal(err)
				}
				if st.Mode&0o7777 != want {
					t.Fatalf("after %d calls, the file a symlink swapped in leads to has mode %#o, want %#o", i+1, st.Mode&0o7777, want)
				}
			}
		})
	}
}
