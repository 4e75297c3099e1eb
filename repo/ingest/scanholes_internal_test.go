package ingest

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The scan counts as holes what SEEK_HOLE says, as the ingest does, not
// what st_blocks leaves out: ZFS with compression reports the compressed
// blocks, so a 1 MiB log held in a tenth of its size looked nine-tenths
// hole, and the time left came out far too short.
func TestScanHolesNotFromBlocks(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "log")
	const size = 1 << 20
	if err := os.WriteFile(full, bytes.Repeat([]byte("a log line\n"), size/11+1)[:size], 0o644); err != nil {
		t.Fatal(err)
	}
	// The blocks a compressing filesystem would report: a tenth.
	if h := scanHoles(full, size, size/512/10); h != 0 {
		t.Errorf("a file of data whose blocks are a tenth of its size: %d bytes of holes, want 0", h)
	}
	sparse := filepath.Join(dir, "image")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("data"), size/2); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Blocks*512 >= size {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not sparse: the test needs a filesystem with holes", sparse)
		}
		t.Skipf("%s is not sparse", sparse)
	}
	if h := scanHoles(sparse, size, 0); h < size-64<<10 || h >= size {
		t.Errorf("a sparse image of %d bytes with 4 of data: %d bytes of holes, want nearly all", size, h)
	}
	// Small files are not opened: a few bytes may live in the inode.
	if h := scanHoles(sparse, 4<<10, 0); h != 0 {
		t.Errorf("a 4 KiB file: %d bytes of holes, want 0", h)
	}
}
