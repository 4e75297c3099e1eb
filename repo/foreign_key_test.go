package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/local"
	"github.com/cairn-backup/cairn/backends/mem"
)

// A key file of another repository with the same password (copied into
// keys/ by mistake, or by someone with write access) opens with the
// password but fails the config's MAC. It used to end the search: the
// repository would not open ("the config was altered"), although its own
// key file was there. It is now passed over.
func TestForeignKeyFileDoesNotHideOwnKey(t *testing.T) {
	ctx := context.Background()
	// A local folder lists in name order, so the foreign key is tried
	// first.
	beA, err := local.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	beB := mem.New()
	a := TestRepositoryOn(t, beA)
	TestRepositoryOn(t, beB)
	var foreign []byte
	if err = beB.List(ctx, "keys/", func(fi backends.Info) error {
		foreign, err = beB.Load(ctx, fi.Name, 0, -1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := beA.Save(ctx, "keys/"+strings.Repeat("00", 32), foreign); err != nil {
		t.Fatal(err)
	}
	opt := Options{Password: []byte(TestPassword), CacheDir: t.TempDir()}
	r, err := Open(ctx, beA, opt)
	if err != nil {
		t.Fatalf("open beside a foreign key file: %v", err)
	}
	r.Close()
	if err := a.CheckPassword(ctx, []byte(TestPassword)); err != nil {
		t.Fatalf("CheckPassword beside a foreign key file: %v", err)
	}

	// With only the foreign key left, the repository is refused as
	// before: the config does not belong to that key.
	var own []string
	beA.List(ctx, "keys/", func(fi backends.Info) error {
		if fi.Name != "keys/"+strings.Repeat("00", 32) {
			own = append(own, fi.Name)
		}
		return nil
	})
	for _, n := range own {
		if err := beA.Remove(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(ctx, beA, opt); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "MAC does not match") {
		t.Fatalf("open with only a foreign key: %v, want the MAC mismatch", err)
	}
}
