package index

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
)

// A cache file cut short or garbled (a full disk, a crash, a stray dd) is
// refused by Open with ErrDamaged, so the caller rebuilds it. It used to
// kill cairn: bbolt panicked over a garbled freelist page in Open, and a
// file cut short passed Open and then took a SIGBUS (exit 2, no cleanup,
// a stale lock left) at the first lookup past its end.
func TestOpenDamagedFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	d, err := Open(good, "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 20; s++ {
		var p Pack
		p.ID, p.Type = blobID(byte(s)), id.DataBlob
		for i := 0; i < 500; i++ {
			var b Blob
			rand.Read(b.ID[:])
			b.Type, b.Pack, b.Length = id.DataBlob, p.ID, 1
			p.Blobs = append(p.Blobs, b)
		}
		var sid id.ID
		rand.Read(sid[:])
		if err := d.AddSegment(sid, []Pack{p}); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string]func([]byte) []byte{
		"cut to 3 pages": func(b []byte) []byte { return b[:3*4096] },
		"cut to 9 pages": func(b []byte) []byte { return b[:9*4096] },
		"cut in half":    func(b []byte) []byte { return b[:len(b)/2] },
		"garbled pages": func(b []byte) []byte {
			b = append([]byte(nil), b...)
			rand.Read(b[2*4096 : 40*4096])
			return b
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			if err := os.WriteFile(path, f(orig), 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := Open(path, "repo-a", time.Second)
			if err != nil {
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("Open: %v, want ErrDamaged", err)
				}
				return
			}
			defer d.Close()
			// Opened: then every page it reaches must be there.
			for s := 0; s < 20; s++ {
				if _, _, err := d.Lookup(blobID(byte(s))); err != nil && !errors.Is(err, ErrDamaged) {
					t.Fatalf("Lookup: %v", err)
				}
			}
		})
	}
}
