package fsmeta_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-backup/cairn/repo/fsmeta"
)

// Only the files whose reading takes data from other readers count:
// /proc/kmsg, not another file of /proc, nor an empty file.
func TestConsumedByReading(t *testing.T) {
	kmsg, err := os.Open("/proc/kmsg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("open /proc/kmsg: %v", err)
		}
		t.Skipf("cannot open /proc/kmsg: %v", err)
	}
	defer kmsg.Close()
	if !fsmeta.ConsumedByReading(kmsg) {
		t.Error("/proc/kmsg not taken for a file whose reading takes its data")
	}
	version, err := os.Open("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	defer version.Close()
	empty := filepath.Join(t.TempDir(), "kmsg")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := os.Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, f := range []*os.File{version, plain} {
		if fsmeta.ConsumedByReading(f) {
			t.Errorf("%s taken for a file whose reading takes its data", f.Name())
		}
	}
}
