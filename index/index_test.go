package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/repo/id"
)

func blobID(b byte) id.ID { var i id.ID; i[0], i[31] = b, b; return i }

func TestSegmentsAndLookup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := Open(path, "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p := Pack{ID: blobID(9), Type: id.DataBlob, Blobs: []Blob{
		{ID: blobID(1), Type: id.DataBlob, Offset: 0, Length: 100, RawLength: 200},
		{ID: blobID(2), Type: id.DataBlob, Offset: 100, Length: 50, RawLength: 50},
	}}
	if err := d.AddSegment(blobID(7), []Pack{p}); err != nil {
		t.Fatal(err)
	}
	// A later segment naming blob 1 in another pack does not move it.
	if err := d.AddSegment(blobID(8), []Pack{{ID: blobID(10), Type: id.DataBlob, Blobs: []Blob{{ID: blobID(1), Type: id.DataBlob, Length: 1}}}}); err != nil {
		t.Fatal(err)
	}
	b, ok, err := d.Lookup(blobID(2))
	if err != nil || !ok || b.Pack != blobID(9) || b.Offset != 100 || b.Length != 50 || b.RawLength != 50 || b.Type != id.DataBlob {
		t.Fatalf("lookup: %+v %v %v", b, ok, err)
	}
	if b, _, _ := d.Lookup(blobID(1)); b.Pack != blobID(9) {
		t.Fatalf("blob 1 moved to %s", b.Pack.Short())
	}
	if _, ok, _ := d.Lookup(blobID(3)); ok {
		t.Fatal("unknown blob found")
	}
	segs, _ := d.Segments()
	if len(segs) != 2 || !segs[blobID(7)] {
		t.Fatalf("segments %v", segs)
	}
	if packs, blobs, _ := d.Counts(); packs != 2 || blobs != 2 {
		t.Fatalf("counts %d packs %d blobs", packs, blobs)
	}
	if err := d.ResetBlobs(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := d.Lookup(blobID(2)); ok {
		t.Fatal("blob survives ResetBlobs")
	}
	d.Close()

	// Another repository's ID empties the cache rather than mixing them.
	d2, err := Open(path, "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d2.AddSegment(blobID(7), []Pack{p})
	d2.Close()
	d3, err := Open(path, "repo-b", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d3.Close()
	if segs, _ := d3.Segments(); len(segs) != 0 {
		t.Fatalf("cache of repo-a seen as repo-b's: %v", segs)
	}
}

func TestBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := Open(path, "r", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Open(path, "r", 50*time.Millisecond); err == nil {
		t.Fatal("a second open of a held cache succeeded")
	}
}

func TestFileCache(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "index.db"), "r", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	k := func(dir, name string) string { return string(FileKey(dir, name)) }
	dirFiles := func(source, dir string) map[string]string {
		out := map[string]string{}
		if err := d.DirFiles(source, dir, func(name string, v []byte, _ func(id.ID) (Blob, bool)) { out[name] = string(v) }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	seen := map[string]struct{}{k("/a", "x"): {}, k("/a", "y"): {}, k("/a/b", "z"): {}}
	if err := d.UpdateFiles("h\x00s", []string{"/a"}, map[string][]byte{k("/a", "x"): []byte("1"), k("/a", "y"): []byte("2"), k("/a/b", "z"): []byte("3")}, seen); err != nil {
		t.Fatal(err)
	}
	got := dirFiles("h\x00s", "/a")
	if len(got) != 2 || got["x"] != "1" || got["y"] != "2" {
		t.Fatalf("dir /a: %q", got)
	}
	// y vanished, x changed; z untouched stays.
	delete(seen, k("/a", "y"))
	if err := d.UpdateFiles("h\x00s", []string{"/a"}, map[string][]byte{k("/a", "x"): []byte("1b")}, seen); err != nil {
		t.Fatal(err)
	}
	got = dirFiles("h\x00s", "/a")
	if len(got) != 1 || got["x"] != "1b" {
		t.Fatalf("after update: %q", got)
	}
	if got := dirFiles("h\x00s", "/a/b"); got["z"] != "3" {
		t.Fatalf("untouched entry lost: %q", got)
	}
	if got := dirFiles("other", "/a"); len(got) != 0 {
		t.Fatalf("another source sees %q", got)
	}
	// An ingest of other paths by the same host and source drops only
	// what vanished below its own paths.
	if err := d.UpdateFiles("h\x00s", []string{"/c", "/a-b/f"}, map[string][]byte{k("/c", "w"): []byte("4"), k("/a-b", "f"): []byte("5"), k("/a-b", "g"): []byte("6")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.UpdateFiles("h\x00s", []string{"/c", "/a-b/f"}, nil, map[string]struct{}{k("/c", "w"): {}}); err != nil {
		t.Fatal(err)
	}
	if got := dirFiles("h\x00s", "/a"); got["x"] != "1b" {
		t.Fatalf("an ingest of /c dropped /a's entries: %q", got)
	}
	if got := dirFiles("h\x00s", "/a-b"); len(got) != 1 || got["g"] != "6" {
		t.Fatalf("/a-b after an ingest of /a-b/f that did not see it: %q, want only g", got)
	}
	for _, tc := range []struct {
		paths []string
		want  bool
	}{
		{[]string{"/a"}, true}, {[]string{"/a/b"}, true}, {[]string{"/a/b/z"}, true}, {[]string{"/a/x"}, true},
		{[]string{"/"}, true}, {[]string{"/c"}, true}, {[]string{"/a-b"}, true}, {[]string{"/a-b/f"}, false},
		{[]string{"/a/y"}, false}, {[]string{"/b", "/d"}, false}, {[]string{"/d", "/c"}, true}, {[]string{"/a/b/y"}, false},
	} {
		if got, err := d.HasFiles("h\x00s", tc.paths); err != nil || got != tc.want {
			t.Errorf("HasFiles %q: %v, %v; want %v", tc.paths, got, err, tc.want)
		}
	}
	// locate answers from the index within the folder's transaction.
	if err := d.AddSegment(blobID(7), []Pack{{ID: blobID(9), Type: id.DataBlob, Blobs: []Blob{{ID: blobID(1), Type: id.DataBlob, Offset: 5, Length: 10, RawLength: 20}}}}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = d.DirFiles("h\x00s", "/a", func(name string, v []byte, locate func(id.ID) (Blob, bool)) {
		calls++
		if b, ok := locate(blobID(1)); !ok || b.Pack != blobID(9) || b.Offset != 5 || b.RawLength != 20 {
			t.Errorf("located blob 1 at %+v, %v", b, ok)
		}
		if _, ok := locate(blobID(2)); ok {
			t.Error("located blob 2, which no pack holds")
		}
	})
	if err != nil || calls != 1 {
		t.Fatalf("DirFiles: %d calls, %v", calls, err)
	}
}

// A cache file whose pages are garbled (bbolt keeps no checksums of them)
// makes bbolt panic on a lookup. That is an error naming the file, never a
// crash, and the next Open starts the cache again.
func TestDamagedPagesAreAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := Open(path, "repo-a", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var bids []id.ID
	for s := 0; s < 20; s++ {
		p := Pack{ID: id.ID{byte(s), 0xff}, Type: id.DataBlob}
		for i := 0; i < 200; i++ {
			bid := id.ID{byte(s), byte(i), 1}
			bids = append(bids, bid)
			p.Blobs = append(p.Blobs, Blob{ID: bid, Type: id.DataBlob, Offset: uint32(i) * 100, Length: 100, RawLength: 100})
		}
		if err := d.AddSegment(id.ID{byte(s), 0xee}, []Pack{p}); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()

	// Garble the element headers of the leaf pages holding more than a few entries
	// (the blobs', not the few buckets' of the root).
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	junk := bytes.Repeat([]byte{0xa5, 0x5a, 0xff, 0x7f}, 16)
	pg := int64(os.Getpagesize())
	hdr := make([]byte, 16)
	for off := 2 * pg; off < st.Size(); off += pg {
		f.ReadAt(hdr, off)
		flags, count := binary.LittleEndian.Uint16(hdr[8:]), binary.LittleEndian.Uint16(hdr[10:])
		if flags == 0x02 && count > 10 {
			f.WriteAt(junk, off+16)
		}
	}
	f.Close()

	d, err = Open(path, "repo-a", time.Second)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	damaged := 0
	for _, bid := range bids {
		if _, _, err := d.Lookup(bid); err != nil {
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
				t.Fatalf("lookup in a damaged file: %v", err)
			}
			damaged++
		}
	}
	d.Close()
	if damaged == 0 {
		t.Fatal("no lookup noticed the damage")
	}
	d, err = Open(path, "repo-a", time.Second)
	if err != nil {
		t.Fatalf("open after the damage was found: %v", err)
	}
	defer d.Close()
	if segs, err := d.Segments(); err != nil || len(segs) != 0 {
		t.Fatalf("the damaged cache was not started again: %d segments (%v)", len(segs), err)
	}
	if _, err := os.Stat(path + damagedSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the damage mark stays: %v", err)
	}
}

// A file's entry says the cache holds that file, not every file whose name
// begins with its name (/etc/hosts.allow is not /etc/hosts).
func TestHasFilesFileNamePrefix(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "index.db"), "r", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	entries := map[string][]byte{string(FileKey("/etc", "hosts.allow")): []byte("1"), string(FileKey("/", "data")): []byte("2")}
	if err := d.UpdateFiles("h\x00s", []string{"/etc/hosts.allow", "/data"}, entries, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want bool
	}{{"/etc/hosts", false}, {"/etc/hosts.allow", true}, {"/dat", false}, {"/data", true}, {"/etc", true}} {
		if got, err := d.HasFiles("h\x00s", []string{tc.path}); err != nil || got != tc.want {
			t.Errorf("HasFiles %s: %v, %v; want %v", tc.path, got, err, tc.want)
		}
	}
}
