package repo

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
	"github.com/cairn-backup/cairn/repo/crypto"
)

// sortedList lists in name order, so that which key file comes first is
// known.
type sortedList struct{ backends.Backend }

func (b sortedList) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	var all []backends.Info
	if err := b.Backend.List(ctx, prefix, func(fi backends.Info) error { all = append(all, fi); return nil }); err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b backends.Info) int { return strings.Compare(a.Name, b.Name) })
	for _, fi := range all {
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

// Anyone who can write to keys/ can put there a key file with the largest
// argon2id cost the bounds allow (16 passes over 1 GiB: minutes and 1 GiB
// of memory on each try, measured 226 s). Key files were tried in listing
// order, so one named to come first delayed every command that much. They
// are now tried cheapest first: the planted, costlier key file (here one
// that also opens, to show which was tried first) comes after the
// repository's own.
func TestKeyFilesTriedCheapestFirst(t *testing.T) {
	ctx := context.Background()
	be := sortedList{mem.New()}
	r := TestRepositoryOn(t, be)
	costly := TestKDF
	costly.Time = 3
	kf, err := crypto.NewKeyFile(r.key, []byte(TestPassword), costly, "", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := kf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	planted := "keys/" + strings.Repeat("00", 32)
	if err := be.Save(ctx, planted, b); err != nil {
		t.Fatal(err)
	}
	_, name, err := unlock(ctx, be, []byte(TestPassword), r.cfg.verify)
	if err != nil {
		t.Fatal(err)
	}
	if name == planted || name != r.keyName {
		t.Fatalf("opened with %s, want the cheaper %s", name, r.keyName)
	}
}
