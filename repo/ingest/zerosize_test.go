package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/ingest"
	"github.com/cairn-backup/cairn/repo/restore"
)

// A file of /proc says it holds 0 bytes yet has content: an ingest reads
// it to its end, as restic does, and a restore gives that content back
// instead of an empty file.
func TestZeroSizeFileWithContent(t *testing.T) {
	const p = "/proc/sys/kernel/random/boot_id"
	want, err := os.ReadFile(p)
	if err != nil || len(want) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("read %s: %v (%d bytes)", p, err, len(want))
		}
		t.Skipf("no %s: %v", p, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != 0 {
		t.Fatalf("stat %s: %v, size %d: the test needs a file that stats as empty", p, err, fi.Size())
	}
	ctx := context.Background()
	r := repo.TestRepository(t)
	var last ingest.Progress
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{p}, Host: "h", Source: "s", Progress: func(p ingest.Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, "/", restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, p)); string(got) != string(want) {
		t.Fatalf("restored %q, want %q", got, want)
	}
	// The progress's totals grow with what was read: they said 0 B of
	// 0 B to do while the bytes done went past them (a JSON status's
	// bytes_done above its total_bytes).
	if !last.ScanDone || last.BytesDone != int64(len(want)) || last.TotalBytes != last.BytesDone || last.TotalFiles != 1 {
		t.Errorf("last progress %+v: want %d bytes done of as many, 1 file of 1", last, len(want))
	}
	// The totals count the bytes read, as restic's do: they said 0 B
	// processed (and cairn snapshots a size of 0 B) for content saved.
	if s := res.Snapshot.Summary; s == nil || s.TotalBytes != int64(len(want)) {
		t.Fatalf("summary %+v: total bytes, want %d", s, len(want))
	}
}

// A file of /sys stats as 4096 bytes and holds a few: an ingest saves
// those few, as restic does, not the file padded to 4096 bytes with zeros.
func TestSysfsFileNotPadded(t *testing.T) {
	const p = "/sys/devices/system/cpu/online"
	want, err := os.ReadFile(p)
	if err != nil || len(want) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("read %s: %v (%d bytes)", p, err, len(want))
		}
		t.Skipf("no %s: %v", p, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() <= int64(len(want)) {
		t.Skipf("stat %s: %v: the test needs a file that stats larger than it is", p, err)
	}
	ctx := context.Background()
	r := repo.TestRepository(t)
	res, err := ingest.Run(ctx, r, ingest.Options{Paths: []string{p}, Host: "h", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := restore.Run(ctx, r, res.Snapshot, "/", restore.Options{Target: dst}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, p)); string(got) != string(want) {
		t.Fatalf("restored %d bytes %.40q, want %q", len(got), got, want)
	}
	if s := res.Snapshot.Summary; s == nil || s.TotalBytes != int64(len(want)) {
		t.Fatalf("summary %+v: total bytes, want %d, not the stat size", s, len(want))
	}
}

// /proc/kmsg hands each kernel message to one reader: the system's log
// daemon. An ingest over /proc leaves it out without reading it, rather
// than taking messages from the log of the machine it backs up.
func TestKmsgLeftOutUnread(t *testing.T) {
	const p = "/proc/kmsg"
	f, err := os.Open(p) // opening takes nothing; reading would
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("open %s: %v", p, err)
		}
		t.Skipf("cannot open %s: %v", p, err)
	}
	f.Close()
	r := repo.TestRepository(t)
	var warned []string
	_, err = ingest.Run(context.Background(), r, ingest.Options{Paths: []string{p}, Host: "h", Source: "s",
		Warn: func(path string, err error) { warned = append(warned, path+": "+err.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "take its data from its other readers") {
		t.Fatalf("warned %q, want /proc/kmsg left out unread", warned)
	}
}
