package repo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/mem"
)

// hugeObjects is a backend on which the objects named in big claim, in
// listings and Stat, to be 8 GiB long, and refuse to be loaded: as a file
// of that size would, they would exhaust memory if read whole.
type hugeObjects struct {
	backends.Backend
	mu  sync.Mutex
	big map[string]bool
}

const hugeSize = 8 << 30

func (b *hugeObjects) isBig(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.big[name]
}

func (b *hugeObjects) Load(ctx context.Context, name string, off, n int64) ([]byte, error) {
	if b.isBig(name) {
		return nil, errors.New("loaded an oversized object " + name)
	}
	return b.Backend.Load(ctx, name, off, n)
}

func (b *hugeObjects) Stat(ctx context.Context, name string) (backends.Info, error) {
	fi, err := b.Backend.Stat(ctx, name)
	if err == nil && b.isBig(name) {
		fi.Size = hugeSize
	}
	return fi, err
}

func (b *hugeObjects) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	return b.Backend.List(ctx, prefix, func(fi backends.Info) error {
		if b.isBig(fi.Name) {
			fi.Size = hugeSize
		}
		return fn(fi)
	})
}

// A file of many GiB put under snapshots/ or condemned/ (or as the
// config) by anyone who can write to the storage used to be loaded whole by
// every command that lists them (a 1 GiB file: 1 GiB of memory and 20 s
// for `cairn snapshots`; a larger one, out of memory). Nothing that large
// can be valid: it is now refused by its size, naming it, and not read.
func TestOversizedEnvelopesNotLoaded(t *testing.T) {
	ctx := context.Background()
	be := &hugeObjects{Backend: mem.New(), big: map[string]bool{}}
	r := TestRepositoryOn(t, be)
	hex := strings.Repeat("ab", 32)
	names := []string{"snapshots/" + hex, "condemned/" + hex}
	for _, n := range names {
		if err := be.Save(ctx, n, []byte("not an envelope")); err != nil {
			t.Fatal(err)
		}
		be.big[n] = true
	}

	var warned []error
	if _, err := r.Snapshots(ctx, func(err error) { warned = append(warned, err) }); err != nil {
		t.Fatalf("Snapshots: %v", err)
	}
	if len(warned) != 1 || !errors.Is(warned[0], ErrDamaged) || !strings.Contains(warned[0].Error(), names[0]) ||
		!strings.Contains(warned[0].Error(), "larger than any snapshot object") {
		t.Fatalf("Snapshots warned %v, want the oversized snapshot named as damaged", warned)
	}
	marks, err := r.Marks(ctx)
	if err != nil {
		t.Fatalf("Marks: %v", err)
	}
	if len(marks) != 1 || marks[0].Err == nil || !strings.Contains(marks[0].Err.Error(), "larger than any condemned object") {
		t.Fatalf("Marks = %+v, want the oversized mark damaged", marks)
	}

	be.big["config"] = true
	if _, err := ReadConfig(ctx, be); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "config: 8589934592 bytes") {
		t.Fatalf("ReadConfig of an oversized config: %v", err)
	}
}
