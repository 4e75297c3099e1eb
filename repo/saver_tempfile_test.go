package repo_test

import (
	"context"
	"os"
	"testing"

	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo"
	"github.com/cairn-backup/cairn/repo/id"
)

// A pack being built for a backend that cannot move files into place (S3,
// or any filtered backend) lives in the temporary folder. It is unlinked
// as soon as it is made, so that a run killed with SIGKILL (a timer's
// TimeoutStopSec, the OOM killer) leaves no pack file of tens of MiB
// behind in /tmp, run after run.
func TestPackTempFileLeavesNothing(t *testing.T) {
	r := repo.TestRepositoryOn(t, mem.New())
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := r.NewSaver(context.Background(), 1)
	b := []byte("a blob that opens a pack")
	if _, err := s.Save(id.DataBlob, r.Codec().ID(b), b); err != nil {
		t.Fatal(err)
	}
	// The pack is open and unfinished here, as when a run is killed.
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s is left in the temporary folder while a pack is built", e.Name())
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Known(r.Codec().ID(b)); err != nil || !ok {
		t.Fatalf("the blob was not stored: %v %v", ok, err)
	}
}
