package repo

import (
	"context"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
)

// noCreate is storage on which the config cannot be created (a full disk,
// or, before cairn knew them, exFAT and FAT, which have no hard links).
type noCreate struct{ *mem.Mem }

func (noCreate) Create(ctx context.Context, name string, data []byte) error {
	return errors.New("create config: operation not permitted")
}

// An init that cannot write the config leaves no key behind: the next init
// there (after the user fixed the cause) would otherwise leave the
// repository with a second key that opens nothing.
func TestInitFailedConfigLeavesNoKey(t *testing.T) {
	ctx := context.Background()
	be := noCreate{mem.New()}
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF}
	if err := Init(ctx, be, opt); err == nil {
		t.Fatal("init succeeded without a config")
	}
	var keys []string
	err := be.List(ctx, "keys/", func(i backends.Info) error {
		keys = append(keys, i.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("failed init left keys %v", keys)
	}
}

// storedThenFails is storage whose Create stores the config and then fails
// (an interrupt or a timeout after the upload, a failed folder sync).
type storedThenFails struct{ *mem.Mem }

func (s storedThenFails) Create(ctx context.Context, name string, data []byte) error {
	if err := s.Mem.Create(ctx, name, data); err != nil {
		return err
	}
	return errors.New("create config: context deadline exceeded")
}

// An init whose config was stored although Create failed keeps its key:
// removing it would leave a config that no key opens, and a folder that
// init refuses (it exists) and open cannot use.
func TestInitFailedAfterConfigStoredKeepsKey(t *testing.T) {
	ctx := context.Background()
	be := storedThenFails{mem.New()}
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir(), KDF: &TestKDF}
	if err := Init(ctx, be, opt); err == nil {
		t.Fatal("init reported no error")
	}
	r, err := Open(ctx, be, opt)
	if err != nil {
		t.Fatalf("the stored config cannot be opened: %v", err)
	}
	r.Close()
}
